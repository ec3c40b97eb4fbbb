#!/usr/bin/env node
// The `esper` command. Sources are TypeScript run through tsx's loader, so a
// fresh `npm ci` is all a user needs (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit explicitly: a stopped daemon may leave idle handles (sockets in TIME_WAIT, timers).
process.exit(code);
