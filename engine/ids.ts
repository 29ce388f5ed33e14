// Docker-style identifiers: 64-hex ids, 12-char short ids, adjective_noun names.
import { randomHex, randomInt } from '../common/random.js';
import { TsnetError } from '../common/errors.js';

export function newId(): string {
  return randomHex(32);
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

const ADJECTIVES = [
  'brave',
  'calm',
  'eager',
  'fond',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'merry',
  'nifty',
  'proud',
  'quiet',
  'sharp',
  'sleepy',
  'swift',
  'tender',
  'vivid',
  'witty',
  'zen',
];
const NOUNS = [
  'babbage',
  'curie',
  'darwin',
  'euler',
  'fermi',
  'gauss',
  'hopper',
  'kepler',
  'lovelace',
  'meitner',
  'newton',
  'noether',
  'pascal',
  'ritchie',
  'shannon',
  'thompson',
  'torvalds',
  'turing',
  'wozniak',
  'yalow',
];

export function randomName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function validateName(name: string, what = 'container name'): string {
  if (!NAME_RE.test(name)) {
    throw new TsnetError(`${what} '${name}'`, 'invalid', 'use 1-63 characters [a-zA-Z0-9_.-], starting with a letter or digit');
  }
  return name;
}
