/**
 * Vega-Lite 6 charts in notebook outputs, drawn with the vega-embed bundled here: no CDN.
 *
 * Altair 6 emits Vega-Lite 6; JupyterLab 4's own renderer reads only v5,
 * so without this Altair falls back to HTML that loads Vega from the network. The kernel side
 * (`llm_magics.plots.render`) sends this mime type with an SVG beside it, which JupyterLab
 * without this extension and `nbconvert --to html` show instead.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { JSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import type { Result, VisualizationSpec } from 'vega-embed';

/**
 * `+json`: what `llm_magics` sends (nbformat stores JSON only under `+json` types);
 * `.v6.json`: what Altair 6's own "mimetype" renderer sends.
 */
export const VEGALITE6_MIME_TYPES = [
  'application/vnd.vegalite.v6+json',
  'application/vnd.vegalite.v6.json'
];
/** What Altair sends instead when VegaFusion compiled the chart to Vega. */
export const VEGA6_MIME_TYPES = ['application/vnd.vega.v6+json', 'application/vnd.vega.v6.json'];

/** One chart, interactive (tooltips, selections) as the spec makes it. */
export class RenderedVegaLite6 extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('jp-LlmMagics-vega');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const spec = model.data[this._mimeType] as unknown as VisualizationSpec;
    const metadata = model.metadata[this._mimeType] as JSONObject | undefined;
    const embedOptions = (metadata?.embed_options ?? {}) as JSONObject;
    // Loaded on the first chart, so that vega's ~1 MB costs nothing to a session without charts.
    const { default: embed } = await import('vega-embed');
    this._result?.finalize();
    this._result = await embed(this.node, spec, {
      // The "Open in Vega Editor" action is a link to the web: leave it out offline.
      actions: { export: true, source: true, compiled: true, editor: false },
      ...embedOptions,
      mode: VEGA6_MIME_TYPES.includes(this._mimeType) ? 'vega' : 'vega-lite'
    });
  }

  dispose(): void {
    this._result?.finalize();
    this._result = null;
    super.dispose();
  }

  private _mimeType: string;
  private _result: Result | null = null;
}

const extension: IRenderMime.IExtension = {
  id: 'llm-magics:vega-lite-6',
  description: 'Vega-Lite 6 charts (Altair 6), drawn offline.',
  rendererFactory: {
    safe: true,
    mimeTypes: [...VEGALITE6_MIME_TYPES, ...VEGA6_MIME_TYPES],
    createRenderer: options => new RenderedVegaLite6(options)
  },
  // Ahead of the SVG drawn beside it (80), like JupyterLab's own Vega 5 renderer (57).
  rank: 57,
  dataType: 'json'
};

export default extension;
