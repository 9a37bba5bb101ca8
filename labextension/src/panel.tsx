/**
 * The "LLM Mining" sidebar: devices and memory, models, jobs, cache and
 * `%%mine` templates of the active notebook's kernel.
 */

import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { SidebarModel } from './model';
import { IJobInfo, IMemoryInfo, IModelInfo, IStateMessage, ITemplate } from './protocol';
import {
  IView,
  ago,
  eta,
  formatBytes,
  formatRate,
  formatSeconds,
  fraction,
  isPending,
  isStopping,
  jobFraction,
  kernelNow,
  orderedJobs
} from './state';

export class SidebarPanel extends ReactWidget {
  constructor(
    private readonly _model: SidebarModel,
    private readonly _insert: (code: string) => void
  ) {
    super();
    this.addClass('jp-LlmMagics');
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this._model.changed} initialArgs={this._model.view}>
        {(_, view) => (
          <Sidebar view={view ?? this._model.view} model={this._model} insert={this._insert} />
        )}
      </UseSignal>
    );
  }
}

interface ISidebarProps {
  view: IView;
  model: SidebarModel;
  insert: (code: string) => void;
}

function Sidebar({ view, model, insert }: ISidebarProps): JSX.Element {
  return (
    <div className="jp-LlmMagics-body">
      <header className="jp-LlmMagics-header">
        <h2>LLM Mining</h2>
        <span className="jp-LlmMagics-kernel">{view.kernelName}</span>
      </header>
      {view.error && (
        <div className="jp-LlmMagics-error" role="alert">
          {view.error}
        </div>
      )}
      <Connected view={view} model={model} insert={insert} />
    </div>
  );
}

function Connected({ view, model, insert }: ISidebarProps): JSX.Element {
  switch (view.connection) {
    case 'no-notebook':
      return <p className="jp-LlmMagics-note">Open a notebook to see its kernel's models and jobs.</p>;
    case 'connecting':
      return <p className="jp-LlmMagics-note">Connecting to the kernel…</p>;
    case 'restarting':
      return <p className="jp-LlmMagics-note">The kernel is restarting; the panel reconnects when it is back.</p>;
    case 'dead':
      return <p className="jp-LlmMagics-note">The kernel is dead. Restart it; the panel reconnects.</p>;
    case 'not-loaded':
      return (
        <div className="jp-LlmMagics-note">
          <p>llm_magics is not loaded in this kernel.</p>
          <button className="jp-mod-styled jp-mod-accept" onClick={() => void model.loadExtension()}>
            Run %load_ext llm_magics
          </button>
        </div>
      );
    case 'ready':
      return view.state ? <Ready view={view} state={view.state} model={model} insert={insert} /> : <></>;
  }
}

function Ready({
  view,
  state,
  model,
  insert
}: ISidebarProps & { state: IStateMessage }): JSX.Element {
  const now = useKernelClock(view);
  return (
    <>
      <section>
        <h3>Memory</h3>
        {state.memory.map(m => (
          <Device key={m.device} memory={m} />
        ))}
      </section>
      <section>
        <h3>Models</h3>
        {state.models.length === 0 ? (
          <p className="jp-LlmMagics-note">No model loaded yet; the first op loads its model.</p>
        ) : (
          <table className="jp-LlmMagics-models">
            <tbody>
              {state.models.map(m => (
                <Model key={m.key} model={m} now={now} view={view} sidebar={model} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h3>Jobs</h3>
        {state.jobs.length === 0 ? (
          <p className="jp-LlmMagics-note">No job yet.</p>
        ) : (
          orderedJobs(state.jobs).map(j => <Job key={j.id} job={j} view={view} sidebar={model} />)
        )}
      </section>
      <section>
        <h3>Cache</h3>
        <div className="jp-LlmMagics-row">
          <span title={state.cache.path}>
            {state.cache.entries.toLocaleString()} results, {formatBytes(state.cache.bytes)}
          </span>
          <button
            className="jp-mod-styled jp-mod-warn"
            disabled={isPending(view, 'clear_cache', '')}
            onClick={() => model.send('clear_cache')}
          >
            Clear
          </button>
        </div>
      </section>
      <section>
        <h3>Insert a %%mine cell</h3>
        {state.templates.map(t => (
          <Template key={t.title} template={t} insert={insert} />
        ))}
      </section>
    </>
  );
}

/** The kernel's clock, moving every second between two states ("used 12 s ago" keeps counting). */
function useKernelClock(view: IView): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick(tick => tick + 1), 1000);
    return () => clearInterval(timer);
  }, []);
  return kernelNow(view);
}

function Bar({ value, label }: { value: number; label: string }): JSX.Element {
  return (
    <div className="jp-LlmMagics-bar" role="progressbar" aria-valuenow={Math.round(value * 100)} aria-label={label}>
      <div className="jp-LlmMagics-bar-fill" style={{ width: `${Math.round(value * 100)}%` }} />
    </div>
  );
}

function Device({ memory }: { memory: IMemoryInfo }): JSX.Element {
  return (
    <div className="jp-LlmMagics-device" data-device={memory.device}>
      <div className="jp-LlmMagics-row">
        <b>{memory.device}</b>
        <span>
          models {formatBytes(memory.models_bytes)} of {formatBytes(memory.budget)} budget
        </span>
      </div>
      <Bar value={fraction(memory.models_bytes, memory.budget)} label={`${memory.device} models within budget`} />
      <div className="jp-LlmMagics-small">
        device {formatBytes(memory.used)} used of {formatBytes(memory.total)}
      </div>
    </div>
  );
}

function Model({
  model,
  now,
  view,
  sidebar
}: {
  model: IModelInfo;
  now: number;
  view: IView;
  sidebar: SidebarModel;
}): JSX.Element {
  const loading = model.state === 'loading';
  const details = [model.role, model.device, model.dtype];
  if (model.quantization && model.quantization !== 'none') {
    details.push(model.quantization);
  }
  return (
    <tr className="jp-LlmMagics-model" data-name={model.name}>
      <td>
        <b>{model.name}</b>
        <div className="jp-LlmMagics-small">
          {details.join(' · ')} · {formatBytes(model.bytes)}
          {loading ? ' · loading…' : ` · used ${ago(model.last_used, now)}`}
        </div>
      </td>
      <td>
        <button
          className="jp-mod-styled"
          disabled={loading || isPending(view, 'unload', model.key)}
          onClick={() => sidebar.send('unload', { key: model.key })}
        >
          Unload
        </button>
      </td>
    </tr>
  );
}

function Job({ job, view, sidebar }: { job: IJobInfo; view: IView; sidebar: SidebarModel }): JSX.Element {
  const left = eta(job);
  const running = job.state === 'running';
  const stopping = isStopping(view, job);
  return (
    <div className={`jp-LlmMagics-job jp-mod-${job.state}`} data-job={job.id}>
      <div className="jp-LlmMagics-row">
        <span>
          <b>{job.primitive}</b> · {job.model}
        </span>
        {stopping ? (
          <span className="jp-LlmMagics-state">cancelling…</span>
        ) : running ? (
          <button
            className="jp-mod-styled jp-mod-warn"
            title={job.foreground ? 'Interrupts the kernel: the cell stops after this batch' : ''}
            onClick={() => sidebar.cancel(job)}
          >
            Cancel
          </button>
        ) : (
          <span className="jp-LlmMagics-state">{job.state}</span>
        )}
      </div>
      <Bar value={jobFraction(job)} label={`${job.primitive} progress`} />
      <div className="jp-LlmMagics-small">
        <span className="jp-LlmMagics-rows">
          {job.done.toLocaleString()}/{job.total.toLocaleString()} rows
        </span>
        {job.cached > 0 && ` · ${job.cached.toLocaleString()} cached`}
        {left !== null && ` · ${formatRate(job.rows_per_second)}`}
        {left !== null && ` · ${formatSeconds(left)} left`}
        {left === null && running && ' · estimating…'}
        {job.error && ` · ${job.error}`}
      </div>
      {job.note && <div className="jp-LlmMagics-small jp-LlmMagics-job-note">{job.note}</div>}
    </div>
  );
}

function Template({ template, insert }: { template: ITemplate; insert: (code: string) => void }): JSX.Element {
  return (
    <button className="jp-mod-styled jp-LlmMagics-template" title={template.code} onClick={() => insert(template.code)}>
      {template.title}
    </button>
  );
}
