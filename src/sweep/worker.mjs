// Tinypool worker bootstrap: worker threads do not inherit the tsx loader registered by the main
// thread, so each worker registers it before importing the TypeScript that runs one sweep cell.
import { register } from 'tsx/esm/api';

register();
const { runCell } = await import('./run-cell.ts');

export default runCell;
