// Typed re-exports of the generated standalone validators (one per schema in schemas/).
import * as generated from './validators.generated.js';
import type { StandaloneValidator } from './validate.js';

export const netconfValidator: StandaloneValidator = generated.netconf;
export const bridgeValidator: StandaloneValidator = generated.bridge;
export const hostLocalValidator: StandaloneValidator = generated.hostLocal;
