//! SVG plots (plotters): line charts with reference lines, and error-bar charts. Axes are labelled
//! and every series has a legend entry, so a plot reads without the JSON.

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use std::path::Path;

/// One line of a chart.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub color: RGBColor,
    /// Dashed (drawn as points) rather than solid.
    pub dashed: bool,
}

/// A vertical reference line with a label.
pub struct VLine {
    /// Legend label.
    pub label: String,
    /// Where.
    pub x: f64,
    /// Colour.
    pub color: RGBColor,
}

fn bounds(series: &[Series], vlines: &[VLine]) -> (f64, f64, f64, f64) {
    let pts = series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    for v in vlines {
        (x0, x1) = (x0.min(v.x), x1.max(v.x));
    }
    if !x0.is_finite() {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |a: f64, b: f64| if b > a { 0.03 * (b - a) } else { 0.5 * a.abs().max(1.0) };
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    (x0 - px, x1 + px, y0 - py, y1 + py)
}

/// Draws a line chart to `path` (SVG).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    vlines: &[VLine],
) -> Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (x0, x1, y0, y1) = bounds(series, vlines);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| anyhow!("{e}"))?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(|e| anyhow!("{e}"))?;
    for s in series {
        let color = s.color;
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 8, 5, color.stroke_width(2)))
        } else {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
        }
        .map_err(|e| anyhow!("{e}"))?;
        // A series with an empty label (the second edge of a band) has no legend entry.
        if !s.label.is_empty() {
            drawn.label(s.label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
    }
    for v in vlines {
        let color = v.color;
        chart
            .draw_series(LineSeries::new(vec![(v.x, y0), (v.x, y1)], color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(v.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// One group of error bars: (x, mean, std) per point.
pub struct Bars {
    /// Legend label.
    pub label: String,
    /// (x, mean, std).
    pub points: Vec<(f64, f64, f64)>,
    /// Colour.
    pub color: RGBColor,
}

/// Estimated vs true values with ±1 std error bars and the y = x line, on log–log axes.
pub fn errorbar_chart(path: &Path, title: &str, x_label: &str, y_label: &str, groups: &[Bars]) -> Result<()> {
    let root = SVGBackend::new(path, (800, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let all: Vec<f64> =
        groups.iter().flat_map(|g| g.points.iter().flat_map(|p| [p.0, (p.1 - p.2).max(1e-3), p.1 + p.2])).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).max(1e-3) * 0.7;
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max) * 1.4;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), (lo..hi).log_scale())
        .map_err(|e| anyhow!("{e}"))?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(DashedLineSeries::new(vec![(lo, lo), (hi, hi)], 8, 5, RGBColor(128, 128, 128).stroke_width(1)))
        .map_err(|e| anyhow!("{e}"))?
        .label("y = x (true rank)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(128, 128, 128)));
    for (i, g) in groups.iter().enumerate() {
        let color = g.color;
        // Offset the groups slightly so their bars do not overlap.
        let shift = 1.0 + 0.03 * i as f64;
        chart
            .draw_series(g.points.iter().map(|&(x, m, s)| {
                ErrorBar::new_vertical(x * shift, (m - s).max(lo), m, m + s, color.filled().stroke_width(2), 8)
            }))
            .map_err(|e| anyhow!("{e}"))?
            .label(g.label.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
