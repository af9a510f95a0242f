// Object-name rules with apimachinery's message texts (k8s.io/apimachinery/pkg/util/validation/validation.go).

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export type NameRule = 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label' | 'path-segment';

/** The problems with `name` under `rule`, in kube-apiserver's words; empty when valid. */
export function nameProblems(name: string, rule: NameRule): string[] {
  const out: string[] = [];
  switch (rule) {
    case 'dns1123-label':
      if (name.length > 63) out.push('must be no more than 63 characters');
      if (!DNS1123_LABEL.test(name)) {
        out.push(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        );
      }
      break;
    case 'dns1035-label':
      if (name.length > 63) out.push('must be no more than 63 characters');
      if (!DNS1035_LABEL.test(name)) {
        out.push(
          "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        );
      }
      break;
    case 'dns1123-subdomain':
      if (name.length > 253) out.push('must be no more than 253 characters');
      if (!DNS1123_SUBDOMAIN.test(name)) {
        out.push(
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        );
      }
      break;
    case 'path-segment':
      if (name === '.' || name === '..') out.push(`may not be '${name}'`);
      else if (name.includes('/') || name.includes('%')) out.push(`may not contain '/' or '%'`);
      break;
  }
  return out;
}

/** Qualified name (label key / annotation key) check: optional DNS prefix + '/' + name of ≤63 chars. */
export function qualifiedNameProblems(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    if (!prefix) return ['prefix part must be non-empty'];
    if (nameProblems(prefix, 'dns1123-subdomain').length) return [`prefix part ${nameProblems(prefix, 'dns1123-subdomain')[0]}`];
    name = n;
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (!name) return ['name part must be non-empty'];
  if (name.length > 63) return ['name part must be no more than 63 characters'];
  if (!/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(name)) {
    return [
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ];
  }
  return [];
}

/** Label value: empty or ≤63 chars of [A-Za-z0-9._-] starting/ending alphanumeric. */
export function labelValueProblems(v: string): string[] {
  if (v === '') return [];
  if (v.length > 63) return ['must be no more than 63 characters'];
  if (!/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)) {
    return [
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ];
  }
  return [];
}

const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';

/** generateName suffix: 5 random characters from apimachinery's alphabet (no vowels, no 0/1/3). */
export function generateNameSuffix(rand: () => number = Math.random): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += ALNUM[Math.floor(rand() * ALNUM.length)];
  return s;
}
