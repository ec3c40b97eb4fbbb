// Entry of a compile/validate pool worker thread: installs the TypeScript
// loader in this thread (loader hooks registered by the parent are not
// inherited), then runs the worker module.
import { register } from 'tsx/esm/api';

register();
await import('./pool-worker.ts');
