// Tinypool worker bootstrap: worker threads do not inherit the tsx loader registered by the main
// thread, so each worker registers it before importing the TypeScript that runs one task.
import { register } from 'tsx/esm/api';

register();
const { runTask } = await import('./task.ts');

export default runTask;
