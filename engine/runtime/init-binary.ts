// Locates the container init helper (native/init/tsnet-init.c, built by `npm run build:native`).
import { findNativeArtifact } from '../../native/artifacts.js';
import { TsnetError } from '../../common/errors.js';

export function initBinary(): string {
  const { path, tried } = findNativeArtifact('tsnet-init', 'TSNET_INIT');
  if (!path)
    throw new TsnetError(
      'init helper tsnet-init',
      `not found; tried ${tried.join(', ')}`,
      "build it with 'npm run build:native', or set TSNET_INIT to its path",
    );
  return path;
}
