// Canvas drawing for the compare page's scatter plot: one point per run, with axes, ticks and grid.

import { type Axis, FONT, BOLD_FONT, fitText, niceTicks, position, setupCanvas, shortNumber, theme, type Value } from './parallel';

export type ScatterPlot = {
  x: Axis;
  y: Axis;
  points: { x: Value; y: Value; color: string }[];
};

/** Pixel positions of the points (null for a run without both values), for hit testing. */
export type ScatterLayout = { points: ([number, number] | null)[] };

const PAD = { left: 64, right: 18, top: 14, bottom: 46 };

/** A numeric axis widened a little, so points don't sit on the frame. */
function padded(axis: Axis): Axis {
  if (axis.kind !== 'numeric') return axis;
  const span = axis.max - axis.min || Math.abs(axis.max) || 1;
  return { ...axis, min: axis.min - span * 0.05, max: axis.max + span * 0.05 };
}

/** Where a categorical axis's categories sit: evenly spaced, inset from both ends. */
function categoryPosition(axis: Axis, value: Value): number | null {
  if (axis.kind !== 'categorical') return position(axis, value);
  const index = axis.categories.indexOf(String(value));
  return index < 0 ? null : (index + 0.5) / axis.categories.length;
}

export function drawScatter(
  canvas: HTMLCanvasElement, width: number, height: number, plot: ScatterPlot, highlight: number | null,
): ScatterLayout {
  const context = setupCanvas(canvas, width, height);
  const layout: ScatterLayout = { points: [] };
  if (!context) return layout;
  const colors = theme();
  const xAxis = padded(plot.x);
  const yAxis = padded(plot.y);
  const left = PAD.left;
  const right = width - PAD.right;
  const top = PAD.top;
  const bottom = height - PAD.bottom;
  const xOf = (t: number) => left + t * (right - left);
  const yOf = (t: number) => bottom - t * (bottom - top);

  context.font = FONT;
  context.lineWidth = 1;
  // Grid and tick labels.
  const xTicks: [number, string][] = xAxis.kind === 'numeric'
    ? niceTicks(xAxis.min, xAxis.max, Math.max(2, Math.floor((right - left) / 90))).map((v) => [position(xAxis, v) ?? 0, shortNumber(v)])
    : xAxis.categories.map((c, i) => [(i + 0.5) / xAxis.categories.length, c]);
  const yTicks: [number, string][] = yAxis.kind === 'numeric'
    ? niceTicks(yAxis.min, yAxis.max, Math.max(2, Math.floor((bottom - top) / 50))).map((v) => [position(yAxis, v) ?? 0, shortNumber(v)])
    : yAxis.categories.map((c, i) => [(i + 0.5) / yAxis.categories.length, c]);

  const xEvery = Math.max(1, Math.ceil((xTicks.length * 70) / Math.max(1, right - left)));
  const yEvery = Math.max(1, Math.ceil((yTicks.length * 16) / Math.max(1, bottom - top)));
  context.fillStyle = colors.muted;
  xTicks.forEach(([t, text], i) => {
    const x = xOf(t);
    context.strokeStyle = colors.border;
    context.beginPath();
    context.moveTo(x, top);
    context.lineTo(x, bottom + 4);
    context.stroke();
    if (i % xEvery !== 0) return;
    context.textAlign = 'center';
    context.textBaseline = 'top';
    context.fillText(fitText(context, text, 66 * xEvery), x, bottom + 6);
  });
  yTicks.forEach(([t, text], i) => {
    const y = yOf(t);
    context.strokeStyle = colors.border;
    context.beginPath();
    context.moveTo(left - 4, y);
    context.lineTo(right, y);
    context.stroke();
    if (i % yEvery !== 0) return;
    context.textAlign = 'right';
    context.textBaseline = 'middle';
    context.fillText(fitText(context, text, left - 10), left - 6, y);
  });

  // Frame and axis titles.
  context.strokeStyle = colors.muted;
  context.strokeRect(left, top, right - left, bottom - top);
  context.font = BOLD_FONT;
  context.fillStyle = colors.fg;
  context.textAlign = 'center';
  context.textBaseline = 'bottom';
  context.fillText(fitText(context, plot.x.label, right - left), (left + right) / 2, height - 4);
  context.save();
  context.translate(12, (top + bottom) / 2);
  context.rotate(-Math.PI / 2);
  context.textBaseline = 'middle';
  context.fillText(fitText(context, plot.y.label, bottom - top), 0, 0);
  context.restore();

  layout.points = plot.points.map((p) => {
    const tx = categoryPosition(xAxis, p.x);
    const ty = categoryPosition(yAxis, p.y);
    return tx === null || ty === null ? null : [xOf(tx), yOf(ty)] as [number, number];
  });

  context.globalAlpha = plot.points.length > 200 ? 0.65 : 0.9;
  layout.points.forEach((point, index) => {
    if (!point || index === highlight) return;
    context.fillStyle = plot.points[index].color;
    context.beginPath();
    context.arc(point[0], point[1], 4, 0, Math.PI * 2);
    context.fill();
  });
  context.globalAlpha = 1;
  const chosen = highlight === null ? null : layout.points[highlight];
  if (highlight !== null && chosen) {
    context.fillStyle = plot.points[highlight].color;
    context.strokeStyle = colors.fg;
    context.lineWidth = 2;
    context.beginPath();
    context.arc(chosen[0], chosen[1], 6, 0, Math.PI * 2);
    context.fill();
    context.stroke();
  }
  return layout;
}

/** The point nearest to (x, y), if one is within `tolerance` pixels. */
export function hitScatter(layout: ScatterLayout, x: number, y: number, tolerance = 8): number | null {
  let best: number | null = null;
  let bestDistance = tolerance;
  layout.points.forEach((point, index) => {
    if (!point) return;
    const distance = Math.hypot(point[0] - x, point[1] - y);
    if (distance <= bestDistance) { bestDistance = distance; best = index; }
  });
  return best;
}
