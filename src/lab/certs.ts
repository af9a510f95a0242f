// TLS material for the lab: a self-signed CA and leaf certificates it signs (ECDSA P-256, fast to generate).
// Also used by tests to give their own webhook servers a certificate (issueCert) whose CA goes in a caBundle.
import { webcrypto } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import '../shared/reflect-shim.ts';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

export interface CertAuthority {
  certPem: string;
  keyPem: string;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  caPem: string;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  // Positive, non-zero 16-byte serial (RFC 5280 §4.1.2.2).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

/** A new self-signed CA valid for 10 years. */
export async function createCa(commonName = 'berth-lab-ca'): Promise<CertAuthority> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey) };
}

/** A serving certificate signed by `ca` for the given DNS names and IP addresses (valid 1 year). */
export async function issueCert(ca: CertAuthority, hosts: { dnsNames?: string[]; ips?: string[] }): Promise<IssuedCert> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', fromPem(ca.keyPem), ALG, false, ['sign']);
  const keys = await newKeys();
  const names: x509.JsonGeneralName[] = [
    ...(hosts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(hosts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cn = hosts.dnsNames?.[0] ?? hosts.ips?.[0] ?? 'berth-lab';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${cn}`,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey), caPem: ca.certPem };
}

/** The lab's CA and serving certificate in `dir` (ca.crt/ca.key/server.crt/server.key), created when missing. */
export async function loadOrCreateLabCerts(dir: string): Promise<{ ca: CertAuthority; server: IssuedCert }> {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  let ca: CertAuthority;
  if (existsSync(p('ca.crt')) && existsSync(p('ca.key'))) {
    ca = { certPem: readFileSync(p('ca.crt'), 'utf8'), keyPem: readFileSync(p('ca.key'), 'utf8') };
  } else {
    ca = await createCa();
    writeFileSync(p('ca.key'), ca.keyPem, { mode: 0o600 });
    writeFileSync(p('ca.crt'), ca.certPem);
  }
  let server: IssuedCert;
  if (existsSync(p('server.crt')) && existsSync(p('server.key')) && certStillValid(readFileSync(p('server.crt'), 'utf8'), ca.certPem)) {
    server = { certPem: readFileSync(p('server.crt'), 'utf8'), keyPem: readFileSync(p('server.key'), 'utf8'), caPem: ca.certPem };
  } else {
    server = await issueCert(ca, { dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'], ips: ['127.0.0.1', '::1'] });
    writeFileSync(p('server.key'), server.keyPem, { mode: 0o600 });
    writeFileSync(p('server.crt'), server.certPem);
  }
  return { ca, server };
}

function certStillValid(certPem: string, caPem: string): boolean {
  try {
    const c = new x509.X509Certificate(certPem);
    const ca = new x509.X509Certificate(caPem);
    return c.issuer === ca.subject && c.notAfter.getTime() > Date.now() + 7 * DAY;
  } catch {
    return false;
  }
}
