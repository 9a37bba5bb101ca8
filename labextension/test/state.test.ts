import { IJobInfo, IStateMessage, PROTOCOL_VERSION } from '../src/protocol';
import {
  eta,
  formatBytes,
  formatRate,
  formatSeconds,
  fraction,
  initialView,
  isPending,
  isStopping,
  jobFraction,
  kernelNow,
  orderedJobs,
  receive,
  request,
  stopAsked
} from '../src/state';

function job(fields: Partial<IJobInfo>): IJobInfo {
  return {
    id: 'j',
    primitive: 'generate',
    model: 'default-chat',
    done: 0,
    total: 100,
    cached: 0,
    rows_per_second: 0,
    started: 0,
    finished: null,
    state: 'running',
    error: null,
    note: null,
    batch: 0,
    foreground: false,
    stopping: false,
    ...fields
  };
}

const state: IStateMessage = {
  type: 'state',
  version: PROTOCOL_VERSION,
  models: [],
  memory: [],
  jobs: [],
  cache: { path: '/c', entries: 0, bytes: 0 },
  templates: [],
  time: 100
};

describe('receive', () => {
  it('a state message makes the view ready', () => {
    const view = receive({ ...initialView, connection: 'connecting' }, state);
    expect(view.connection).toBe('ready');
    expect(view.state).toBe(state);
  });

  it('a reply settles its request and shows a refusal', () => {
    const [waiting, sent] = request(initialView, 'unload', { key: 'k' });
    expect(isPending(waiting, 'unload', 'k')).toBe(true);
    const refused = receive(waiting, {
      type: 'reply',
      version: PROTOCOL_VERSION,
      request_id: sent.request_id,
      ok: false,
      error: 'No model'
    });
    expect(isPending(refused, 'unload', 'k')).toBe(false);
    expect(refused.error).toBe('No model');
    const ok = receive(refused, { ...sent, type: 'reply', ok: true, error: null });
    expect(ok.error).toBeNull();
  });

  it('another protocol version is named, not misread', () => {
    const view = receive(initialView, { ...state, version: PROTOCOL_VERSION + 1 });
    expect(view.state).toBeNull();
    expect(view.error).toContain(`protocol ${PROTOCOL_VERSION + 1}`);
  });

  it.each([null, 'state', { type: 'state' }, { type: 'eval', code: '1' }, { type: 'reply' }])(
    'an unreadable message %p changes nothing but the error',
    message => {
      const view = receive(initialView, message);
      expect(view.connection).toBe(initialView.connection);
      expect(view.error).toContain('cannot read');
    }
  );
});

describe('request', () => {
  it('carries the version, the action and a fresh id', () => {
    const [, first] = request(initialView, 'cancel', { job_id: 'j1' });
    const [, second] = request(initialView, 'status');
    expect(first).toMatchObject({ version: PROTOCOL_VERSION, action: 'cancel', job_id: 'j1' });
    expect(first.request_id).not.toBe(second.request_id);
  });

  it('refuses an action outside the protocol', () => {
    expect(() => request(initialView, 'execute' as never)).toThrow('Unknown action');
  });
});

describe('jobs', () => {
  it('running first, newest first', () => {
    const jobs = [
      job({ id: 'old-done', state: 'done', started: 1 }),
      job({ id: 'running-old', started: 2 }),
      job({ id: 'new-done', state: 'cancelled', started: 5 }),
      job({ id: 'running-new', started: 4 })
    ];
    expect(orderedJobs(jobs).map(j => j.id)).toEqual([
      'running-new',
      'running-old',
      'new-done',
      'old-done'
    ]);
  });

  it('ETA from the pace so far, none when finished or not started', () => {
    expect(eta(job({ done: 40, rows_per_second: 4 }))).toBe(15);
    expect(eta(job({ done: 40 }))).toBeNull();
    expect(eta(job({ state: 'done', done: 100, rows_per_second: 4 }))).toBeNull();
  });

  it('no ETA until a computed batch has finished: the sidebar says "estimating…"', () => {
    // A one-batch job: the batch is all but done, no row finished (was "0 s left").
    expect(eta(job({ done: 0, total: 30, batch: 30, rows_per_second: 6 }))).toBeNull();
    // The first seconds of a batch of 200 (was "7.9 h left").
    expect(eta(job({ done: 0, total: 200, batch: 0.01, rows_per_second: 0.002 }))).toBeNull();
    // Cached rows are not a finished batch.
    expect(eta(job({ done: 50, cached: 50, total: 200, batch: 1, rows_per_second: 0.5 }))).toBeNull();
    expect(eta(job({ done: 60, cached: 50, total: 200, batch: 0, rows_per_second: 1 }))).toBe(140);
  });

  it('fraction stays in [0, 1]', () => {
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(12, 10)).toBe(1);
    expect(fraction(3, 0)).toBe(0);
  });
});

describe('formatting, as the kernel does', () => {
  it.each([
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [1610612736, '1.5 GiB']
  ])('%p bytes is %p', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([
    [42.4, '42 s'],
    [600, '10 min'],
    [7200, '2.0 h']
  ])('%p seconds is %p', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });
});

describe('stopping a job', () => {
  it('shows "cancelling" from the click until the kernel says the job stopped', () => {
    const running = job({ id: 'a', foreground: true });
    const ready = receive(initialView, { ...state, jobs: [running] });
    expect(isStopping(ready, running)).toBe(false);
    const asked = stopAsked(ready, running);
    expect(isStopping(asked, running)).toBe(true);
    const stillRunning = receive(asked, { ...state, jobs: [running] });
    expect(isStopping(stillRunning, running)).toBe(true);
    const stopped = job({ id: 'a', state: 'interrupted' });
    const after = receive(stillRunning, { ...state, jobs: [stopped] });
    expect(after.stopping).toEqual([]);
    expect(isStopping(after, stopped)).toBe(false);
  });

  it('a stop asked in the kernel (Ctrl-C) shows too', () => {
    expect(isStopping(initialView, job({ stopping: true }))).toBe(true);
    expect(isStopping(initialView, job({ stopping: true, state: 'done' }))).toBe(false);
  });
});

describe('progress within a batch', () => {
  it('moves the bar and the time left while a batch runs', () => {
    const moving = job({ done: 16, total: 40, batch: 4, rows_per_second: 2 });
    expect(jobFraction(moving)).toBeCloseTo(0.5);
    expect(eta(moving)).toBeCloseTo(10);
    expect(jobFraction(job({ done: 40, total: 40, batch: 4, state: 'done' }))).toBe(1);
  });
});

describe('the kernel clock', () => {
  it('keeps counting after the last state', () => {
    const view = { ...receive(initialView, state), received: 1000 };
    expect(kernelNow(view, 1000)).toBe(100);
    expect(kernelNow(view, 1012)).toBe(112);
    expect(kernelNow(initialView, 5)).toBe(0);
  });
});

describe('the pace', () => {
  it.each([
    [2.54, '2.5 rows/s'],
    [0.5, '2 s/row'],
    [0.0091, '2 min/row']
  ])('%p rows/s reads "%s"', (rate, text) => {
    expect(formatRate(rate)).toBe(text);
  });
});
