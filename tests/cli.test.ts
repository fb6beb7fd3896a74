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

test('model describes the shipped model: its pyramids, how it continues a stream and its cost', async (t) => {
  const printed: string[] = [];
  t.mock.method(console, 'log', (text: string) => printed.push(text));
  assert.equal(await main(['model']), 0);
  const text = printed.join('\n');
  assert.match(text, /stages {7}0\.25x\d+ 0\.5x\d+ 1x\d+/);
  assert.match(text, /continues {4}(pyramid|bridge): .*; the flow generates (the frame|the change from the newest frame)\n/);
  assert.match(text, /cost {9}\d+\.\d\d GFLOP per video frame/);
});
