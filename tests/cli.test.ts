import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../server/src/cli.ts';

const COMMANDS = ['serve', 'generate', 'replay', 'bench', 'model', 'bench-serve', 'quality', 'loadtest', 'bench-model'];

test('every command answers --help and -h with its own usage and exit code 0', async (t) => {
  const printed: string[] = [];
  t.mock.method(console, 'log', (text: string) => printed.push(text));
  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      printed.length = 0;
      assert.equal(await main([command, flag]), 0, `${command} ${flag}`);
      assert.equal(printed.length, 1);
      const usage = printed[0] ?? '';
      assert.ok(usage.startsWith(`usage: livegen ${command} `), usage);
      assert.ok(!COMMANDS.some((other) => other !== command && usage.includes(`\n  ${other} `)), `${command}'s usage runs into another command's:\n${usage}`);
    }
  }
});
