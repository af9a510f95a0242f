// Linux network interface names, as the kernel accepts them (net/core/dev.c `dev_valid_name`): not empty, at most
// IFNAMSIZ-1 = 15 bytes, not "." or "..", and no '/', ':' or whitespace. L2Advertisement `interfaces` entries are
// matched against the node's interface names, so an entry the kernel would refuse can never match: berth refuses it
// at validation (MetalLB accepts any string; docs/compatibility.md).

/** IFNAMSIZ - 1 (include/uapi/linux/if.h IFNAMSIZ = 16, the NUL included). */
export const MAX_INTERFACE_NAME_BYTES = 15;

/**
 * Why `name` cannot be a Linux interface name (the rule it breaks, as a sentence fragment), or undefined when it can.
 * Lengths are in bytes of UTF-8, as the kernel counts them. Source: net/core/dev.c dev_valid_name.
 */
export function interfaceNameError(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'an interface name must be a string';
  if (name === '') return 'an interface name must not be empty';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_INTERFACE_NAME_BYTES) {
    return `an interface name is at most ${MAX_INTERFACE_NAME_BYTES} bytes (IFNAMSIZ-1), this one has ${bytes}`;
  }
  if (name === '.' || name === '..') return 'an interface name must not be "." or ".."';
  // The kernel's isspace(): space, \t \n \v \f \r; NUL ends the C string, so it cannot be part of a name either.
  const bad = /[/:\s\0]/.exec(name);
  if (bad) {
    return `an interface name must not contain '/', ':', whitespace or NUL (found ${JSON.stringify(bad[0])})`;
  }
  return undefined;
}
