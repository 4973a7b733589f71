//! The report email's two charts as PNG images, drawn on a pixel grid:
//! daily availability as bars against the target line, daily latency
//! percentiles as lines against the SLA line. No text is drawn (no font is
//! needed where the function runs): the HTML around each image states its
//! scale and legend, and the text part every figure.

use livesite_core::report::MonthlyReport;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 200;
const PAD: i64 = 8;

type Rgb = [u8; 3];
/// One latency percentile of a day, if it has one.
type Pick = fn(&livesite_core::report::Latency) -> Option<f64>;
const WHITE: Rgb = [255, 255, 255];
const GRID: Rgb = [225, 225, 225];
const GREEN: Rgb = [27, 127, 59];
const RED: Rgb = [176, 0, 32];
const GREY: Rgb = [190, 190, 190];
const BLUE: Rgb = [25, 90, 200];
const MAGENTA: Rgb = [170, 40, 160];

struct Canvas {
    px: Vec<Rgb>,
}

impl Canvas {
    fn new() -> Self {
        let mut c = Self {
            px: vec![WHITE; (WIDTH * HEIGHT) as usize],
        };
        for q in 1..4 {
            let y = PAD + (HEIGHT as i64 - 2 * PAD) * q / 4;
            c.hline(y, GRID, false);
        }
        c
    }

    fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            self.px[(y * WIDTH as i64 + x) as usize] = colour;
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, colour);
            }
        }
    }

    fn hline(&mut self, y: i64, colour: Rgb, dashed: bool) {
        for x in PAD..WIDTH as i64 - PAD {
            if !dashed || (x / 6) % 2 == 0 {
                self.set(x, y, colour);
                self.set(x, y + 1, colour);
            }
        }
    }

    /// A two-pixel line (Bresenham, drawn twice, one pixel apart).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, colour);
            self.set(x, y + 1, colour);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        let data: Vec<u8> = self.px.iter().flatten().copied().collect();
        writer.write_image_data(&data)?;
        writer.finish()?;
        Ok(out)
    }
}

/// The pixel row of `v` on a scale from `low` (bottom) to `high` (top).
fn row(v: f64, low: f64, high: f64) -> i64 {
    let span = (high - low).max(f64::EPSILON);
    let inner = (HEIGHT as i64 - 2 * PAD) as f64;
    PAD + (inner * (1.0 - ((v - low) / span).clamp(0.0, 1.0))).round() as i64
}

/// The pixel columns of day `i` of `n`: its bar's left and right edges.
fn columns(i: usize, n: usize) -> (i64, i64) {
    let inner = (WIDTH as i64 - 2 * PAD) as f64;
    let w = inner / n.max(1) as f64;
    let x0 = PAD + (w * i as f64).round() as i64;
    let x1 = PAD + (w * (i + 1) as f64).round() as i64 - 2;
    (x0, x1.max(x0))
}

/// The availability chart's scale: from just under the lowest day (or the
/// target) to 100%.
pub fn availability_floor(r: &MonthlyReport) -> f64 {
    let lowest = r
        .days
        .iter()
        .filter_map(|d| d.availability_percent)
        .fold(r.target_percent, f64::min);
    (lowest - 0.1).max(0.0).min(r.target_percent - 0.1)
}

/// Daily availability: a green bar for a day at or over the target, red
/// under it, a short grey bar for a day nothing was observed; the target
/// as a dashed red line.
pub fn availability(r: &MonthlyReport) -> Result<Vec<u8>, png::EncodingError> {
    let mut c = Canvas::new();
    let floor = availability_floor(r);
    let bottom = row(floor, floor, 100.0);
    for (i, d) in r.days.iter().enumerate() {
        let (x0, x1) = columns(i, r.days.len());
        match d.availability_percent {
            Some(a) => {
                let colour = if a >= r.target_percent { GREEN } else { RED };
                c.rect(x0, row(a, floor, 100.0), x1, bottom, colour);
            }
            None => c.rect(x0, bottom - 6, x1, bottom, GREY),
        }
    }
    c.hline(row(r.target_percent, floor, 100.0), RED, true);
    c.png()
}

/// The latency chart's top: a quarter over the SLA, or the highest p99.
pub fn latency_top(r: &MonthlyReport) -> f64 {
    r.days
        .iter()
        .filter_map(|d| d.latency.p99_ms)
        .fold(r.latency_sla_ms as f64 * 1.25, f64::max)
}

/// Daily p50 (green), p95 (blue) and p99 (magenta) as lines through the
/// days that have them; the SLA as a dashed red line.
pub fn latency(r: &MonthlyReport) -> Result<Vec<u8>, png::EncodingError> {
    let mut c = Canvas::new();
    let top = latency_top(r);
    let n = r.days.len();
    let series: [(Rgb, Pick); 3] = [
        (GREEN, |l| l.p50_ms),
        (BLUE, |l| l.p95_ms),
        (MAGENTA, |l| l.p99_ms),
    ];
    for (colour, pick) in series {
        let points: Vec<(i64, i64)> = r
            .days
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let (x0, x1) = columns(i, n);
                pick(&d.latency).map(|v| ((x0 + x1) / 2, row(v, 0.0, top)))
            })
            .collect();
        for pair in points.windows(2) {
            c.line(pair[0], pair[1], colour);
        }
        for p in &points {
            c.rect(p.0 - 2, p.1 - 2, p.0 + 2, p.1 + 2, colour);
        }
    }
    c.hline(row(r.latency_sla_ms as f64, 0.0, top), RED, true);
    c.png()
}
