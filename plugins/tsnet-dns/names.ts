// The name records live in plugins/shared/dns-names.ts (tsnetd writes the overlay's remote names there too).
export * from '../shared/dns-names.js';
