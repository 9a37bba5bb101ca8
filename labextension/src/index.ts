/**
 * The "LLM Mining" sidebar plugin: follows the active notebook and shows its
 * kernel's llm_magics state (see model.ts for the connection, panel.tsx for the view).
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { SidebarModel } from './model';
import { SidebarPanel } from './panel';

const icon = new LabIcon({
  name: 'llm-magics:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h18v2H3zm0 5h12v2H3zm0 5h18v2H3zm0 5h8v2H3z"/><circle cx="19" cy="10" r="2.5"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'llm-magics:sidebar',
  description: 'The active kernel’s llm_magics models, memory and jobs, live.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const model = new SidebarModel();
    const insert = (code: string) => {
      const notebook = tracker.currentWidget;
      if (!notebook) {
        return;
      }
      NotebookActions.insertBelow(notebook.content);
      notebook.content.activeCell?.model.sharedModel.setSource(code);
      notebook.content.activeCell?.editor?.focus();
    };
    const panel = new SidebarPanel(model, insert);
    panel.id = 'llm-magics-sidebar';
    panel.title.icon = icon;
    panel.title.caption = 'LLM Mining';
    app.shell.add(panel, 'left', { rank: 650 });

    const follow = () => model.setSession(tracker.currentWidget?.sessionContext ?? null);
    tracker.currentChanged.connect(follow);
    follow();
  }
};

export default plugin;
