// Fills the signature slots of the example arrangements with Ed25519 signatures over each
// version hash, from throwaway keys made here (node keys proper arrive with federation).
// Usage: npx tsx scripts/sign-examples.ts examples/arrangements/*.json
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { arrangementVersionHash, parseArrangement } from '../src/arrangements/index.js';

for (const file of process.argv.slice(2)) {
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  const signatures = [];
  const parties = [];
  for (const party of raw.parties) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const fingerprint = `sha256:${createHash('sha256').update(spki.subarray(-32)).digest('hex')}`;
    parties.push({ ...party, nodeKeys: [{ use: 'signing', fingerprint }] });
    signatures.push({ partner: party.partner, fingerprint, privateKey });
  }
  const unsigned = parseArrangement({ ...raw, parties, signatures: [] });
  const hash = arrangementVersionHash(unsigned);
  const signedAt = unsigned.effective;
  const doc = {
    ...unsigned,
    signatures: signatures.map((s) => ({
      partner: s.partner,
      fingerprint: s.fingerprint,
      versionHash: hash,
      signedAt,
      signature: sign(null, Buffer.from(hash), s.privateKey).toString('base64'),
    })),
  };
  writeFileSync(file, `${JSON.stringify(parseArrangement(doc), null, 2)}\n`);
  console.log(`${file}: ${hash}`);
}
