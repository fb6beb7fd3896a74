/** A bad command line: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

/** An integer flag within [min, max]. */
export function intFlag(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return n;
}

/** A positive number flag. */
export function positiveFlag(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, not ${JSON.stringify(text)}`);
  return n;
}

/** The onnxruntime execution provider: cpu, or webgpu where the machine has a GPU and Vulkan. */
export function providerFlag(text: string): 'cpu' | 'webgpu' {
  if (text !== 'cpu' && text !== 'webgpu') throw new UsageError(`--provider is cpu or webgpu, not ${JSON.stringify(text)}`);
  return text;
}
