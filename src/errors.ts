/** Bad input from the user: reported as one line naming the field and what is allowed, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/**
 * Control characters (terminal escape sequences, newlines, C1 codes, line separators) shown as
 * \xNN / \uNNNN, so text from a file or an argument cannot forge or garble an error line.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
