// Canvas drawing for the compare page's parallel-coordinates plot, and the pieces it shares with
// the scatter plot (axes from values, ticks, theme colours, devicePixelRatio-aware set-up).

export type Value = number | string | undefined;

/** A numeric axis (scaled linearly between min and max) or a categorical one (evenly spaced). */
export type Axis =
  | { label: string; kind: 'numeric'; min: number; max: number }
  | { label: string; kind: 'categorical'; categories: string[] };

function asNumber(value: Value): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value.trim() === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Numeric when every present value is a finite number; categorical otherwise. */
export function makeAxis(label: string, values: Value[]): Axis {
  const present = values.filter((v): v is number | string => v !== undefined);
  const numbers = present.map(asNumber);
  if (present.length > 0 && numbers.every((n) => n !== null)) {
    const finite = numbers as number[];
    return { label, kind: 'numeric', min: Math.min(...finite), max: Math.max(...finite) };
  }
  const categories = Array.from(new Set(present.map(String))).sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true }));
  return { label, kind: 'categorical', categories };
}

/** Where `value` sits on `axis`, from 0 (bottom/left) to 1 (top/right); null when it has none. */
export function position(axis: Axis, value: Value): number | null {
  if (value === undefined) return null;
  if (axis.kind === 'numeric') {
    const n = asNumber(value);
    if (n === null) return null;
    return axis.max > axis.min ? (n - axis.min) / (axis.max - axis.min) : 0.5;
  }
  const index = axis.categories.indexOf(String(value));
  if (index < 0) return null;
  return axis.categories.length > 1 ? index / (axis.categories.length - 1) : 0.5;
}

/** Round tick values between min and max, about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min) || !Number.isFinite(max - min)) return [min];
  const rough = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const ratio = rough / magnitude;
  const step = (ratio < 1.5 ? 1 : ratio < 3 ? 2 : ratio < 7 ? 5 : 10) * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A short label for a tick value. */
export function shortNumber(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(4)));
}

export type Theme = { fg: string; muted: string; border: string; bg: string; accent: string };

/** The page's colours (style.css's custom properties), read when drawing so dark mode applies. */
export function theme(): Theme {
  const style = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    fg: read('--fg', '#1d2430'),
    muted: read('--muted', '#5d6878'),
    border: read('--border', '#d9dee6'),
    bg: read('--bg', '#ffffff'),
    accent: read('--accent', '#2f6fdf'),
  };
}

/** The metric colour scale: 0 is blue, 1 is red (through violet and magenta). */
export function metricColor(t: number): string {
  const clamped = Math.min(Math.max(t, 0), 1);
  return `hsl(${Math.round(230 + 130 * clamped)} 75% 52%)`;
}

/** The same scale as a CSS gradient, for the legend. */
export function metricGradient(): string {
  const stops = Array.from({ length: 7 }, (_, i) => metricColor(i / 6));
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

/** Sizes the canvas's backing store for the screen's pixel ratio; draws in CSS pixels after. */
export function setupCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D | null {
  const ratio = window.devicePixelRatio || 1;
  const pixelWidth = Math.max(1, Math.round(width * ratio));
  const pixelHeight = Math.max(1, Math.round(height * ratio));
  if (canvas.width !== pixelWidth) canvas.width = pixelWidth;
  if (canvas.height !== pixelHeight) canvas.height = pixelHeight;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const context = canvas.getContext('2d');
  if (!context) return null;
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  return context;
}

/** `text` cut with an ellipsis to fit `width` pixels in the context's font. */
export function fitText(context: CanvasRenderingContext2D, text: string, width: number): string {
  if (context.measureText(text).width <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (context.measureText(`${text.slice(0, mid)}…`).width <= width) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? `${text.slice(0, lo)}…` : '';
}

export const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
export const BOLD_FONT = `600 ${FONT}`;

export type ParallelPlot = {
  axes: Axis[];
  /** One row per line, one value per axis. */
  rows: Value[][];
  /** One colour per row. */
  colors: string[];
};

/** Pixel positions of each line's vertices (null where the line has no value), for hit testing. */
export type ParallelLayout = { points: ([number, number] | null)[][] };

const PAD = { left: 24, right: 72, top: 48, bottom: 30 };

export function drawParallel(
  canvas: HTMLCanvasElement, width: number, height: number, plot: ParallelPlot, highlight: number | null,
): ParallelLayout {
  const context = setupCanvas(canvas, width, height);
  const layout: ParallelLayout = { points: [] };
  if (!context || plot.axes.length === 0) return layout;
  const colors = theme();
  const count = plot.axes.length;
  const span = width - PAD.left - PAD.right;
  const spacing = count > 1 ? span / (count - 1) : span;
  const xs = plot.axes.map((_, i) => (count > 1 ? PAD.left + i * spacing : PAD.left + span / 2));
  const top = PAD.top;
  const bottom = height - PAD.bottom;
  const yOf = (t: number) => bottom - t * (bottom - top);

  layout.points = plot.rows.map((row) =>
    plot.axes.map((axis, i) => {
      const t = position(axis, row[i]);
      return t === null ? null : [xs[i], yOf(t)] as [number, number];
    }));

  // Lines first, the axes over them. Many lines get fainter so their density shows.
  const alpha = Math.max(0.12, Math.min(0.85, 40 / Math.max(1, plot.rows.length)));
  const stroke = (index: number, lineWidth: number) => {
    const points = layout.points[index];
    context.strokeStyle = plot.colors[index];
    context.lineWidth = lineWidth;
    context.beginPath();
    let drawing = false;
    for (const point of points) {
      if (!point) { drawing = false; continue; }
      if (drawing) context.lineTo(point[0], point[1]);
      else context.moveTo(point[0], point[1]);
      drawing = true;
    }
    context.stroke();
    // A line with a single value still shows, as a dot.
    if (points.filter(Boolean).length === 1) {
      const [x, y] = points.find(Boolean)!;
      context.fillStyle = plot.colors[index];
      context.fillRect(x - 2, y - 2, 4, 4);
    }
  };
  context.lineJoin = 'round';
  context.globalAlpha = highlight === null ? alpha : alpha * 0.5;
  plot.rows.forEach((_, index) => index !== highlight && stroke(index, 1.25));
  context.globalAlpha = 1;
  if (highlight !== null && plot.rows[highlight]) stroke(highlight, 3);

  context.font = FONT;
  plot.axes.forEach((axis, i) => {
    const x = xs[i];
    context.strokeStyle = colors.muted;
    context.lineWidth = 1;
    context.beginPath();
    context.moveTo(x, top);
    context.lineTo(x, bottom);
    context.stroke();

    // The label above the axis, centred but kept inside the canvas.
    const labelWidth = Math.max(40, Math.min(spacing - 8, 180));
    context.font = BOLD_FONT;
    context.fillStyle = colors.fg;
    const label = fitText(context, axis.label, labelWidth);
    const measured = context.measureText(label).width;
    const labelX = Math.min(Math.max(x - measured / 2, 2), width - measured - 2);
    context.textAlign = 'left';
    context.textBaseline = 'alphabetic';
    context.fillText(label, labelX, top - 24);
    context.font = FONT;

    context.fillStyle = colors.muted;
    const tickRoom = Math.max(30, Math.min(spacing - 12, 120));
    const tick = (y: number, text: string, baseline: CanvasTextBaseline) => {
      context.beginPath();
      context.moveTo(x - 4, y);
      context.lineTo(x + 4, y);
      context.stroke();
      context.textBaseline = baseline;
      context.fillText(fitText(context, text, tickRoom), x + 6, y);
    };
    if (axis.kind === 'numeric') {
      tick(top, shortNumber(axis.max), 'bottom');
      if (axis.max > axis.min) tick(bottom, shortNumber(axis.min), 'top');
    } else {
      // Every category gets a tick; labels as many as fit without overlapping.
      const every = Math.max(1, Math.ceil((axis.categories.length * 14) / Math.max(1, bottom - top)));
      axis.categories.forEach((category, index) => {
        const t = axis.categories.length > 1 ? index / (axis.categories.length - 1) : 0.5;
        const y = yOf(t);
        if (index % every === 0 || index === axis.categories.length - 1) tick(y, category, 'middle');
        else {
          context.beginPath();
          context.moveTo(x - 3, y);
          context.lineTo(x + 3, y);
          context.stroke();
        }
      });
    }
  });
  return layout;
}

function segmentDistance(px: number, py: number, [ax, ay]: [number, number], [bx, by]: [number, number]): number {
  const dx = bx - ax;
  const dy = by - ay;
  const length = dx * dx + dy * dy;
  const t = length > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / length)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** The line nearest to (x, y), if one passes within `tolerance` pixels. */
export function hitParallel(layout: ParallelLayout, x: number, y: number, tolerance = 5): number | null {
  let best: number | null = null;
  let bestDistance = tolerance;
  layout.points.forEach((points, index) => {
    for (let i = 0; i < points.length; i++) {
      const a = points[i];
      if (!a) continue;
      const b = points[i + 1];
      const distance = b ? segmentDistance(x, y, a, b) : Math.hypot(x - a[0], y - a[1]);
      if (distance < bestDistance) { bestDistance = distance; best = index; }
    }
  });
  return best;
}
