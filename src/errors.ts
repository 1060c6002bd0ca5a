/** Bad input from the user: reported as one line naming the field and what is allowed, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}
