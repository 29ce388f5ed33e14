// Test certificates for an etcd that speaks TLS, made by openssl (EC P-256, valid one day) in a directory the
// test owns and removes.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/**
 * In `dir`: ca.crt/key; server.crt/key for 127.0.0.1 signed by it; client.crt/key (client auth) signed by it; and
 * stranger.crt/key, a client certificate from another CA (other-ca.crt).
 */
export function makeCerts(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=tsnet test CA');
  const sign = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  };
  sign('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  // a CA etcd does not trust, and a client certificate from it
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '1', '-subj', '/CN=someone else');
  writeFileSync(join(dir, 'stranger.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(dir, 'req', ...ec, '-keyout', 'stranger.key', '-out', 'stranger.csr', '-subj', '/CN=stranger');
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'stranger.csr',
    '-CA',
    'other-ca.crt',
    '-CAkey',
    'other-ca.key',
    '-CAcreateserial',
    '-out',
    'stranger.crt',
    '-days',
    '1',
    '-extfile',
    'stranger.ext',
  );
}
