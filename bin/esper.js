#!/usr/bin/env node
// The `esper` command. Sources are TypeScript run through tsx's loader, so a
// fresh `npm ci` is all a user needs (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
