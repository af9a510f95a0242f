// How the network lab and the benches start a speaker (speaker-run.ts): the command of each mode, the image's
// environment (the DaemonSet's NODE_OPTIONS, no BERTH_SPEAKER_V8_FLAGS override), and the errors naming bad input.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BUNDLE, CLI_MAIN, daemonSetNodeOptions, imageSpeakerEnv, parseSpeakerMode, SPEAKER_MAIN, speakerCommand, startSpeaker } from './speaker-run.ts';

test('parseSpeakerMode: tsx and bundle; anything else is refused naming the value and the allowed ones', () => {
  assert.equal(parseSpeakerMode('tsx'), 'tsx');
  assert.equal(parseSpeakerMode('bundle'), 'bundle');
  assert.throws(() => parseSpeakerMode('image', '--speaker'), /^Error: --speaker "image": must be one of tsx, bundle$/);
  assert.throws(() => parseSpeakerMode(''), /^Error: speaker mode "": must be one of tsx, bundle$/);
});

test('speakerCommand: the bundle under plain node with the `speaker` command; tsx through the CLI or the speaker main', () => {
  assert.deepEqual(speakerCommand('bundle', ['--node-name', 'n1']), { script: BUNDLE, args: ['speaker', '--node-name', 'n1'], tsx: false });
  assert.deepEqual(speakerCommand('bundle', ['--node-name', 'n1'], { bundleFile: '/x/b.mjs', viaCli: true }), {
    script: '/x/b.mjs',
    args: ['speaker', '--node-name', 'n1'],
    tsx: false,
  });
  assert.deepEqual(speakerCommand('tsx', ['--node-name', 'n1'], { viaCli: true }), { script: CLI_MAIN, args: ['speaker', '--node-name', 'n1'], tsx: true });
  assert.deepEqual(speakerCommand('tsx', ['--node-name', 'n1']), { script: SPEAKER_MAIN, args: ['--node-name', 'n1'], tsx: true });
});

test("imageSpeakerEnv: NODE_OPTIONS is the speaker container's in the DaemonSet, BERTH_SPEAKER_V8_FLAGS is dropped, the rest kept", () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-speaker-run-'));
  try {
    const file = join(dir, 'ds.yaml');
    writeFileSync(
      file,
      `apiVersion: apps/v1
kind: DaemonSet
spec:
  template:
    spec:
      containers:
        - name: other
          env: [{ name: NODE_OPTIONS, value: --wrong }]
        - name: speaker
          env:
            - { name: A, value: b }
            - { name: NODE_OPTIONS, value: --max-semi-space-size=1 --v8-pool-size=1 }
`,
    );
    const base = { PATH: '/bin', NODE_OPTIONS: '--import tsx', BERTH_SPEAKER_V8_FLAGS: '' };
    const env = imageSpeakerEnv(base, file);
    assert.deepEqual(env, { PATH: '/bin', NODE_OPTIONS: '--max-semi-space-size=1 --v8-pool-size=1' });
    assert.equal(base.BERTH_SPEAKER_V8_FLAGS, '', 'base is not modified');
    writeFileSync(file, 'spec: {template: {spec: {containers: [{name: speaker}]}}}\n');
    assert.equal(daemonSetNodeOptions(file), '');
    assert.throws(() => daemonSetNodeOptions(join(dir, 'missing.yaml')), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the checkout's DaemonSet sets NODE_OPTIONS for the speaker (the image's way reads it from there)", () => {
  assert.match(daemonSetNodeOptions(), /^--\S/);
});

test('startSpeaker in mode bundle refuses a bundle that does not exist, naming it and how to build it', () => {
  assert.throws(() => startSpeaker('bundle', [], { bundleFile: '/nonexistent/berth.mjs' }), /^Error: speaker: the bundle \/nonexistent\/berth\.mjs does not exist \(bundle\(\) of image\/bundle\.ts/);
});
