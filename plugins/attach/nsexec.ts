// Locates native/nsexec/tsnet-nsexec (built by `npm run build:native`): runs a program inside a netns
// without `ip netns exec` or `nsenter`.
import { findNativeArtifact } from '../../native/artifacts.js';
import { PluginError, AttachErrorCode } from '../shared/errors.js';

export function nsexecBinary(): string {
  const { path, tried } = findNativeArtifact('tsnet-nsexec', 'TSNET_NSEXEC');
  if (!path)
    throw new PluginError(
      'helper tsnet-nsexec',
      `not found; tried ${tried.join(', ')}`,
      "build it with 'npm run build:native', or set TSNET_NSEXEC to its path",
      AttachErrorCode.Unsupported,
    );
  return path;
}
