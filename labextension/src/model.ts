/**
 * The sidebar's connection to the active notebook's kernel: one comm on the
 * `llm_magics` target, reopened when the kernel changes or restarts. The kernel
 * pushes its state; this model only sends the requests of the protocol.
 */

import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { Action, IJobInfo, PROTOCOL_VERSION, TARGET } from './protocol';
import { Connection, IView, initialView, receive, request, stopAsked } from './state';

/** How long to wait for the comm's subshell before opening on the main shell (ms). */
const SUBSHELL_WAIT = 5000;

export class SidebarModel {
  get view(): IView {
    return this._view;
  }

  /** Emitted with the new view after every change. */
  get changed(): ISignal<this, IView> {
    return this._changed;
  }

  /** Follow `session` (the active notebook's), or nothing when null. */
  setSession(session: ISessionContext | null): void {
    if (session === this._session) {
      return;
    }
    if (this._session) {
      this._session.kernelChanged.disconnect(this._onKernelChanged, this);
      this._session.statusChanged.disconnect(this._onStatus, this);
    }
    this._session = session;
    this._follow(null);
    if (!session) {
      this._set({ ...initialView });
      return;
    }
    session.kernelChanged.connect(this._onKernelChanged, this);
    session.statusChanged.connect(this._onStatus, this);
    void session.ready.then(() => {
      if (this._session === session) {
        this._connect();
      }
    });
  }

  /** Run `%load_ext llm_magics` in the kernel (the only code this sidebar runs), then connect. */
  async loadExtension(): Promise<void> {
    const kernel = this._session?.session?.kernel;
    if (!kernel) {
      return;
    }
    this._set({ ...this._view, connection: 'connecting' });
    await kernel.requestExecute({ code: '%load_ext llm_magics', store_history: false }).done;
    this._connect();
  }

  /** Ask the kernel to perform `action` (unload a model, cancel a job, clear the cache ...). */
  send(action: Action, fields: { key?: string; job_id?: string } = {}): void {
    if (!this._comm || this._comm.isDisposed) {
      return;
    }
    const [view, sent] = request(this._view, action, fields);
    this._set(view);
    this._comm.send({ ...sent });
  }

  /**
   * Stop `job` at the end of its running batch. A foreground job runs in a
   * notebook cell: the kernel is interrupted, as the notebook's own button does
   * (every kernel reads an interrupt at once, with or without subshells; the
   * engine turns it into a stop after the batch, and the queued cells of a Run
   * All are not run). A background job (a panel's) gets the protocol's `cancel`.
   */
  cancel(job: IJobInfo): void {
    const kernel = this._session?.session?.kernel;
    if (!kernel || job.state !== 'running') {
      return;
    }
    this._set(stopAsked(this._view, job));
    if (job.foreground) {
      void kernel.interrupt().catch(err => this._set({ ...this._view, error: String(err) }));
    } else {
      this.send('cancel', { job_id: job.id });
    }
  }

  dispose(): void {
    this.setSession(null);
    Signal.clearData(this);
  }

  private _connect(): void {
    const session = this._session;
    const kernel = session?.session?.kernel ?? null;
    this._follow(kernel);
    this._closeComm();
    if (!session || !kernel) {
      this._set({ ...initialView, connection: session ? 'connecting' : 'no-notebook' });
      return;
    }
    if (kernel.status === 'dead') {
      this._set({ ...this._view, connection: 'dead', state: null });
      return;
    }
    const comm = kernel.createComm(TARGET);
    this._comm = comm;
    this._set({
      ...this._view,
      connection: 'connecting',
      kernelName: session.kernelDisplayName,
      state: null,
      pending: {},
      stopping: []
    });
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      if (this._comm === comm) {
        this._set(receive(this._view, msg.content.data));
      }
    };
    comm.onClose = () => {
      if (this._comm !== comm) {
        return;
      }
      this._comm = null;
      const connection = this._view.connection;
      if (connection === 'connecting' || connection === 'ready') {
        // The kernel closed it: no `llm_magics` target there (extension not loaded).
        this._set({ ...this._view, connection: 'not-loaded', state: null });
      }
    };
    void this._open(kernel, comm);
  }

  /**
   * Open `comm` on its own kernel subshell where the kernel has them (ipykernel 7,
   * JEP 91): the kernel then reads the sidebar's messages while cells run, so a
   * Run All shows its jobs and Cancel. JupyterLab starts the comm's subshell
   * asynchronously and `open` does not wait for it: an open sent before the
   * subshell exists goes to the main shell and waits behind every queued cell.
   */
  private async _open(kernel: Kernel.IKernelConnection, comm: Kernel.IComm): Promise<void> {
    try {
      await kernel.info;
      const started = (comm as { subshellStarted?: Promise<void> }).subshellStarted;
      if (kernel.supportsSubshells && started) {
        // No subshell after a few seconds: open on the main shell, as before subshells.
        await Promise.race([started, new Promise(resolve => setTimeout(resolve, SUBSHELL_WAIT))]);
      }
    } catch {
      // No kernel info or no subshell: the main shell still answers, after the running cell.
    }
    if (this._comm !== comm || comm.isDisposed) {
      return;
    }
    try {
      comm.open({ version: PROTOCOL_VERSION });
    } catch (err) {
      this._set({ ...this._view, connection: 'not-loaded', error: String(err) });
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel is gone; nothing to close.
      }
    }
  }

  /** Watch the kernel's replies: `%load_ext llm_magics` run in a cell connects the sidebar. */
  private _follow(kernel: Kernel.IKernelConnection | null): void {
    if (this._kernel === kernel) {
      return;
    }
    this._kernel?.anyMessage.disconnect(this._onAnyMessage, this);
    this._kernel = kernel;
    kernel?.anyMessage.connect(this._onAnyMessage, this);
  }

  private _onAnyMessage(_: Kernel.IKernelConnection, args: Kernel.IAnyMessageArgs): void {
    if (
      args.direction === 'recv' &&
      args.msg.header.msg_type === 'execute_reply' &&
      this._view.connection === 'not-loaded'
    ) {
      this._connect();
    }
  }

  private _onKernelChanged(): void {
    this._connect();
  }

  private _onStatus(): void {
    const status = this._session?.session?.kernel?.status;
    let connection: Connection | null = null;
    if (status === 'dead') {
      connection = 'dead';
    } else if (status === 'restarting' || status === 'autorestarting' || status === 'starting') {
      connection = 'restarting';
    }
    if (connection) {
      this._comm = null;
      this._set({ ...this._view, connection, state: null, pending: {}, stopping: [] });
    } else if (
      status === 'idle' &&
      (this._view.connection === 'restarting' || this._view.connection === 'dead')
    ) {
      this._connect();
    }
  }

  private _set(view: IView): void {
    this._view = view;
    this._changed.emit(view);
  }

  private _view: IView = { ...initialView };
  private _changed = new Signal<this, IView>(this);
  private _session: ISessionContext | null = null;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
}
