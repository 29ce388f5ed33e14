// What an endpoint (one container interface on one network) is given when it is attached, as Docker 20.10
// gives it: the names it has on the network besides the container's own, and its EndpointID.
import { randomHex } from '../../common/random.js';
import { shortId } from '../ids.js';
import type { NetMode } from './driver.js';

/**
 * The container's aliases on a network: --network-alias / --alias as given (each once), then — on a user
 * network (`network create`'s, not the default `bridge` nor `attach:`) — its short id (the first 12 hex digits
 * of its id) unless already there, as Docker 20.10 appends it: inspect lists it in Aliases and the network's
 * resolver answers it. Undefined when there are none (Docker's null).
 */
export function endpointAliases(containerId: string, mode: NetMode, aliases: string[] | undefined): string[] | undefined {
  const out = [...new Set(aliases ?? [])];
  if (mode.kind === 'network' && !out.includes(shortId(containerId))) out.push(shortId(containerId));
  return out.length ? out : undefined;
}

/** A new EndpointID: 64 hex digits, made at each attach (a restart's endpoint is a new one, as Docker's). */
export function newEndpointId(): string {
  return randomHex(32);
}
