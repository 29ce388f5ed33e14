// Writes the line config the init helper reads (format documented at the top of native/init/tsnet-init.c).
export type InitConfig = Record<string, string | number | undefined | (string | undefined)[]>;

export function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function encodeInitConfig(cfg: InitConfig): string {
  const lines: string[] = ['# tsnet-init config, written by the engine'];
  for (const [k, v] of Object.entries(cfg)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item === undefined) continue;
      const s = String(item);
      if (s.includes('\0')) throw new Error(`init config ${k}: NUL byte not allowed`);
      lines.push(`${k}=${escapeValue(s)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
