#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx livegen` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
