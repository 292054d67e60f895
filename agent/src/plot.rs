//! `--plot FILE.svg` of `config explain` and `config tune`: the advisor's detection time and
//! quiet-cluster bandwidth against cluster size, for one configuration or a base and its
//! tuned form side by side.

use std::path::Path;

use memberlist::advisor::{Prediction, predict};
use memberlist::machine::ProtocolConfig;
use plotters::prelude::*;

/// One configuration to draw.
pub(crate) struct Line<'a> {
    /// Its legend.
    pub(crate) label: String,
    /// The configuration.
    pub(crate) config: &'a ProtocolConfig,
}

/// Colours of the lines, in order.
const COLOURS: [RGBColor; 4] = [BLUE, RED, GREEN, MAGENTA];

/// Cluster sizes from 2 to at least 10,000 (and ten times `nodes`), about four per decade.
fn sizes(nodes: usize) -> Vec<usize> {
    let top = (nodes.saturating_mul(10)).max(10_000);
    let mut out = vec![2];
    let mut decade = 1usize;
    while decade <= top {
        for step in [1, 2, 3, 5, 7] {
            let n = decade * step;
            if n > 2 && n <= top {
                out.push(n);
            }
        }
        decade = decade.saturating_mul(10);
    }
    out
}

/// The figures of `config` at every size (sizes it cannot predict are skipped).
fn curve(config: &ProtocolConfig, loss: f64, sizes: &[usize]) -> Vec<(usize, Prediction)> {
    sizes
        .iter()
        .filter_map(|&n| predict(config, n, loss).ok().map(|p| (n, p)))
        .collect()
}

/// Draws two panels into `path`: seconds until a crash is dead everywhere (the expected low
/// end, with the confirmations in), and bytes per second per node in a quiet cluster, both
/// against N on a log scale, with `nodes` marked.
pub(crate) fn plot(path: &Path, lines: &[Line<'_>], nodes: usize, loss: f64) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    let sizes = sizes(nodes);
    let curves: Vec<Vec<(usize, Prediction)>> = lines
        .iter()
        .map(|l| curve(l.config, loss, &sizes))
        .collect();
    let x_max = *sizes.last().unwrap_or(&10_000) as f64;
    let secs = |p: &Prediction| p.time_to_dead.value.low.as_secs_f64();
    let y_time = curves
        .iter()
        .flatten()
        .map(|(_, p)| secs(p))
        .fold(0.0_f64, f64::max)
        * 1.15;
    let bandwidth = |p: &Prediction| p.bandwidth.quiet_total.value.max(1.0);
    let (b_min, b_max) = curves
        .iter()
        .flatten()
        .map(|(_, p)| bandwidth(p))
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), b| {
            (lo.min(b), hi.max(b))
        });
    let root = SVGBackend::new(path, (1100, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(550);
    let loss_words = if loss > 0.0 {
        format!(", {}% loss", loss * 100.0)
    } else {
        String::new()
    };

    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("Crash to dead at every member{loss_words}"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((2.0..x_max).log_scale(), 0.0..y_time.max(0.1))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("cluster size N")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("seconds (expected, all confirmations in)")
        .draw()
        .map_err(|e| err(&e))?;
    // A grey vertical line at the cluster size asked about.
    let n = nodes as f64;
    chart
        .draw_series(LineSeries::new(
            [(n, 0.0), (n, y_time)],
            RGBColor(90, 90, 90).stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label(format!("N = {nodes}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(90, 90, 90)));
    for (i, (line, c)) in lines.iter().zip(&curves).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points = c.iter().map(|(n, p)| (*n as f64, secs(p)));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;

    let mut chart = ChartBuilder::on(&right)
        .caption("Bandwidth per node, quiet cluster", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (2.0..x_max).log_scale(),
            ((b_min * 0.8).max(1.0)..(b_max * 1.25).max(10.0)).log_scale(),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("cluster size N")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("bytes per second (probes + push/pull)")
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (line, c)) in lines.iter().zip(&curves).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points = c.iter().map(|(n, p)| (*n as f64, bandwidth(p)));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_cover_two_to_ten_times_the_cluster() {
        let s = sizes(50);
        assert_eq!(s.first(), Some(&2));
        assert_eq!(s.last(), Some(&10_000));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sizes(5_000).last(), Some(&50_000));
    }
}
