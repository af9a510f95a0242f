// Certificates for berth's own TLS bootstrap (the alternative to cert-manager): a CA (10 years) and a serving
// certificate it signs for `<service>.<namespace>.svc` (plus the lab's 127.0.0.1), as MetalLB's cert-controller
// rotator does (CA "cert", DNS <svc>.<ns>.svc; metallb internal/k8s/webhook.go). ECDSA P-256: fast to generate.
// Pure computation (webcrypto), no files and no API calls: see cert-bootstrap.ts for where they are kept.
import { webcrypto } from 'node:crypto';
import '../shared/reflect-shim.ts';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

/** PEM texts; `caKeyPem` only where the CA key is kept (the Secret of the bootstrap mode). */
export interface TlsMaterial {
  readonly caPem: string;
  readonly caKeyPem?: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ServingNames {
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
}

/** DNS names the API server may use for `clientConfig.service` (it dials `<svc>.<ns>.svc`). */
export function servingNames(service: string, namespace: string, ips: readonly string[] = ['127.0.0.1']): ServingNames {
  return {
    dnsNames: [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service],
    ips,
  };
}

function toPem(der: ArrayBuffer, label: string): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const buf = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function serial(): string {
  // Positive, non-zero serial (RFC 5280 §4.1.2.2).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey('pkcs8', k), 'PRIVATE KEY');
}

export async function createCa(now: Date, commonName = 'berth-webhook-ca'): Promise<{ caPem: string; caKeyPem: string }> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}, O=berth`,
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + 3650 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { caPem: cert.toString('pem') + '\n', caKeyPem: await keyPem(keys.privateKey) };
}

/** A serving certificate signed by the CA, valid `days` (default 365). */
export async function issueServing(
  ca: { caPem: string; caKeyPem: string },
  names: ServingNames,
  now: Date,
  days = 365,
): Promise<TlsMaterial> {
  const caCert = new x509.X509Certificate(ca.caPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', fromPem(ca.caKeyPem), ALG, false, ['sign']);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.dnsNames[0] ?? names.ips[0] ?? 'berth-webhook'}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + days * DAY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...names.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { caPem: ca.caPem, caKeyPem: ca.caKeyPem, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/**
 * Why the material cannot serve as it is (undefined: it can): unparsable, not issued by the CA, expiring within
 * `renewBeforeDays`, or missing one of the names.
 */
export function renewalReason(m: TlsMaterial, names: ServingNames, now: Date, renewBeforeDays = 30): string | undefined {
  let cert: x509.X509Certificate;
  let ca: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(m.certPem);
    ca = new x509.X509Certificate(m.caPem);
  } catch (e) {
    return `certificate does not parse: ${(e as Error).message}`;
  }
  if (cert.issuer !== ca.subject) return `certificate issuer "${cert.issuer}" is not the CA "${ca.subject}"`;
  if (cert.notAfter.getTime() - now.getTime() < renewBeforeDays * DAY) {
    return `certificate expires ${cert.notAfter.toISOString()} (renewing ${renewBeforeDays} days ahead)`;
  }
  if (ca.notAfter.getTime() < cert.notAfter.getTime()) return 'the CA expires before the certificate';
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const have = new Set((san?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`));
  for (const d of names.dnsNames) if (!have.has(`dns:${d}`)) return `certificate lacks DNS name ${d}`;
  for (const ip of names.ips) if (!have.has(`ip:${ip}`)) return `certificate lacks IP ${ip}`;
  return undefined;
}

/** True when `bundlePem` (a caBundle, possibly several certificates) contains the CA certificate `caPem`. */
export function bundleHasCa(bundlePem: string, caPem: string): boolean {
  const norm = (p: string) => p.replace(/\s+/g, '');
  const want = norm(caPem);
  return (bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).some((c) => norm(c) === want);
}

/** True when the CA parses and stays valid for at least `minDays` more days. */
export function caUsable(caPem: string, now: Date, minDays: number): boolean {
  try {
    return new x509.X509Certificate(caPem).notAfter.getTime() - now.getTime() > minDays * DAY;
  } catch {
    return false;
  }
}
