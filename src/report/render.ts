/**
 * Vega-Lite → Vega → SVG, in Node, with no canvas and no network: the SVG is inlined into the
 * report so it opens from disk. Rendering is deterministic (same spec → same SVG).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export const CHART_WIDTH = 460;
export const CHART_HEIGHT = 260;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vg } = compile(spec);
  // renderer 'none': no canvas; loader that refuses every URL, so a spec can never fetch
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`report charts must inline their data; refused to load ${uri}`);
  };
  const view = new vega.View(vega.parse(vg), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
