//! `--svg PATH`: the run as one bar chart, each workload's systems against
//! its best peer.
//!
//! Per workload (one bar group, top to bottom in the run's order), every
//! figure is divided by the *best peer's*: the lowest median among the
//! systems that are not gort. So the best peer's bar ends at 1.0, a line
//! marks 1.0, and gort's bar is gort's ratio to the best peer: below the
//! line, gort is ahead. Every figure the harness prints is lower-is-better
//! (ns per operation, bytes per task, lateness), so the ratios are too.
//!
//! The bars of a group, in this fixed order and colour: gort, tokio,
//! smol, Go, and the best of the row's other contenders (flume, dashmap,
//! `std_mutex`, ...; its name is written beside its bar). A system
//! without a figure leaves its slot empty. Not peers: gort's own variants
//! (`gort_io`) and `bare` (the call with no runtime at all, a floor rather
//! than a rival); they get no bar. A workload without a gort figure or
//! without any peer's (`http_hello` without `wrk`) gets no group. Bars
//! past [`X_MAX`] are cut there and carry their value as text.
//!
//! Drawn with plotters' SVG backend (as `soak.rs`'s chart): text is SVG
//! `<text>`, so no font or system library is needed. The workload names
//! are drawn as text beside the plot, at their group's middle, in pixel
//! coordinates taken from the chart's own mapping.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Where the ratio axis ends; longer bars are cut here and labelled.
pub(crate) const X_MAX: f64 = 3.0;

/// The series, in slot order: a name for the legend and a colour.
const SERIES: [(&str, RGBColor); 5] = [
    ("gort", RGBColor(214, 39, 40)),
    ("tokio", RGBColor(255, 127, 14)),
    ("smol", RGBColor(44, 160, 44)),
    ("Go", RGBColor(0, 173, 216)),
    ("best other crate", RGBColor(140, 140, 140)),
];

/// Bar slots per group, plus one slot of gap below the group.
const SLOTS: f64 = SERIES.len() as f64 + 1.0;

/// Pixels per slot.
const SLOT_PX: f64 = 7.0;

/// Empty slots above the first group, where the legend goes (so that it
/// covers no bar).
const LEGEND_SLOTS: f64 = 15.0;

/// One workload's bars, already normalised to its best peer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    pub(crate) workload: String,
    /// Per slot of [`SERIES`]: the ratio to the best peer, if that system
    /// has a figure.
    pub(crate) ratios: [Option<f64>; 5],
    /// The name of the contender in the last slot, if any.
    pub(crate) other: Option<String>,
    /// The best peer's field name (`go` for the Go twin).
    pub(crate) best: String,
}

impl Group {
    /// Normalises `figures` (a system's field name, as printed, and its
    /// median; `go` for the Go twin) to the best peer. `None` without a
    /// gort figure, without a peer's, or when the best peer's is not
    /// positive (nothing to divide by).
    pub(crate) fn new(workload: &str, figures: Vec<(String, f64)>) -> Option<Group> {
        let is_peer = |name: &str| name != "gort" && !name.starts_with("gort_") && name != "bare";
        let gort = figures.iter().find(|(n, _)| n == "gort")?.1;
        let (best_name, best) = figures
            .iter()
            .filter(|(n, v)| is_peer(n) && v.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(n, v)| (n.clone(), *v))?;
        if best <= 0.0 {
            return None;
        }
        let of = |name: &str| {
            figures
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v / best)
        };
        let other = figures
            .iter()
            .filter(|(n, _)| is_peer(n) && !["tokio", "smol", "go"].contains(&n.as_str()))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        Some(Group {
            workload: workload.to_string(),
            ratios: [
                Some(gort / best),
                of("tokio"),
                of("smol"),
                of("go"),
                other.map(|(_, v)| v / best),
            ],
            other: other.map(|(n, _)| n.clone()),
            best: best_name,
        })
    }
}

/// Renders `groups` as an SVG document.
///
/// # Errors
///
/// What plotters reports (a drawing error; none is expected for a string).
pub(crate) fn render(groups: &[Group], procs: usize) -> Result<String, Box<dyn Error>> {
    let mut svg = String::new();
    let rows = groups.len().max(1) as f64;
    let top = rows * SLOTS + LEGEND_SLOTS;
    let height = (90.0 + top * SLOT_PX) as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (980, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "gort-bench, procs={procs}: each system's median over the best peer's (lower is better)"
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .margin_left(190)
            .x_label_area_size(40)
            .build_cartesian_2d(0f64..X_MAX, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("time (or bytes) / best peer's: 1.0 = the best peer, below 1.0 = gort ahead")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;

        // Group g's slot s spans [top - s - 1, top - s) in y, with the
        // first group at the top.
        let slot = |g: usize, s: usize| {
            let top = (groups.len() - g) as f64 * SLOTS;
            (top - s as f64 - 1.0 + 0.1, top - s as f64 - 0.1)
        };
        let text = TextStyle::from(("sans-serif", 11).into_font());
        for (s, (name, colour)) in SERIES.iter().enumerate() {
            let bars = groups.iter().enumerate().filter_map(|(g, group)| {
                let r = group.ratios[s]?;
                let (y0, y1) = slot(g, s);
                Some(Rectangle::new(
                    [(0.0, y0), (r.min(X_MAX), y1)],
                    colour.filled(),
                ))
            });
            let colour = *colour;
            chart.draw_series(bars)?.label(*name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
            });
        }
        // Values: gort's ratio always, every cut bar's, and the name of the
        // best other crate.
        for (g, group) in groups.iter().enumerate() {
            for (s, r) in group.ratios.iter().enumerate() {
                let Some(r) = *r else { continue };
                let mut label = String::new();
                if s == 0 || r > X_MAX {
                    let _ = write!(label, "{r:.2}");
                }
                if s == SERIES.len() - 1 {
                    if let Some(other) = &group.other {
                        if !label.is_empty() {
                            label.push(' ');
                        }
                        label.push_str(other);
                    }
                }
                if label.is_empty() {
                    continue;
                }
                let (y0, y1) = slot(g, s);
                let x = r.min(X_MAX);
                let anchor = if x > X_MAX * 0.8 {
                    (x - 0.02, Pos::new(HPos::Right, VPos::Center))
                } else {
                    (x + 0.02, Pos::new(HPos::Left, VPos::Center))
                };
                chart.draw_series(std::iter::once(Text::new(
                    label,
                    (anchor.0, (y0 + y1) / 2.0),
                    text.clone().pos(anchor.1),
                )))?;
            }
        }
        chart.draw_series(LineSeries::new(
            [(1.0, 0.0), (1.0, top)],
            BLACK.stroke_width(2),
        ))?;
        // The workload names, left of the plot at their group's middle.
        let name_font = TextStyle::from(("sans-serif", 13).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (g, group) in groups.iter().enumerate() {
            let middle = (groups.len() - g) as f64 * SLOTS - (SLOTS - 1.0) / 2.0;
            let (x, y) = chart.backend_coord(&(0.0, middle));
            root.draw(&Text::new(
                group.workload.clone(),
                (x - 8, y),
                name_font.clone(),
            ))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// Renders `groups` and writes the SVG to `path`.
///
/// # Errors
///
/// A drawing error, or the file cannot be written.
pub(crate) fn write(path: &Path, groups: &[Group], procs: usize) -> Result<(), Box<dyn Error>> {
    let svg = render(groups, procs)?;
    std::fs::write(path, svg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(fs: &[(&str, f64)]) -> Vec<(String, f64)> {
        fs.iter().map(|(n, v)| (n.to_string(), *v)).collect()
    }

    /// A fixed run: three workloads, with peers missing and a cut bar.
    fn fixed() -> Vec<Group> {
        [
            Group::new(
                "ping_pong",
                figures(&[
                    ("gort", 96.0),
                    ("tokio", 200.0),
                    ("smol", 250.0),
                    ("go", 160.0),
                ]),
            ),
            Group::new(
                "chan_mpmc",
                figures(&[
                    ("gort", 30.0),
                    ("smol", 100.0),
                    ("flume", 114.0),
                    ("crossbeam", 82.0),
                    ("go", 20.0),
                ]),
            ),
            Group::new(
                "syscall_short",
                figures(&[
                    ("gort", 110.0),
                    ("tokio", 400.0),
                    ("bare", 95.0),
                    ("go", 100.0),
                ]),
            ),
            // No gort figure: no group.
            Group::new("http_hello", figures(&[("tokio", 5.0)])),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn groups_are_normalised_to_the_best_peer() {
        let g = fixed();
        assert_eq!(g.len(), 3);
        assert_eq!(
            g[0].ratios,
            [Some(0.6), Some(1.25), Some(1.5625), Some(1.0), None]
        );
        assert_eq!(g[0].other, None);
        // Go is the best peer; the best other crate is crossbeam.
        assert_eq!(
            g[1].ratios,
            [Some(1.5), None, Some(5.0), Some(1.0), Some(4.1)]
        );
        assert_eq!(g[1].other.as_deref(), Some("crossbeam"));
        assert_eq!((g[0].best.as_str(), g[1].best.as_str()), ("go", "go"));
        // `bare` is no peer: Go is the best, and `bare` gets no bar.
        assert_eq!(g[2].ratios[0], Some(1.1));
        assert_eq!(g[2].ratios[4], None);
        assert!(Group::new("x", figures(&[("gort", 1.0), ("tokio", 0.0)])).is_none());
    }

    /// The `fill` colour of each `<rect>` in `svg`, in document order.
    fn rect_fills(svg: &str) -> Vec<String> {
        svg.split("<rect")
            .skip(1)
            .filter_map(|r| {
                let tag = &r[..r.find('>')?];
                let at = tag.find("fill=\"")? + 6;
                Some(tag[at..at + tag[at..].find('"')?].to_ascii_uppercase())
            })
            .collect()
    }

    /// The content of each `<text>` element in `svg`, trimmed.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = &t[t.find('>')? + 1..t.find("</text>")?];
                Some(body.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn renders_one_bar_group_per_workload() {
        let groups = fixed();
        let svg = render(&groups, 2).unwrap();
        let dir = std::env::temp_dir().join(format!("gort-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bench.svg");
        write(&path, &groups, 2).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
        std::fs::remove_dir_all(&dir).unwrap();

        assert!(svg.trim_start().starts_with("<svg"), "not an SVG document");
        assert!(svg.trim_end().ends_with("</svg>"));
        let fills = rect_fills(&svg);
        let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        let count = |s: usize| fills.iter().filter(|f| **f == hex(SERIES[s].1)).count();
        // One gort bar per group, plus the legend's swatch.
        assert_eq!(count(0), groups.len() + 1, "gort bars: {fills:?}");
        // tokio in two groups, smol in two, Go in three, an other in one.
        assert_eq!([count(1), count(2), count(3), count(4)], [3, 3, 4, 2]);
        let texts = texts(&svg);
        for g in &groups {
            let n = texts.iter().filter(|t| **t == g.workload).count();
            assert_eq!(n, 1, "{} labelled {n} times", g.workload);
        }
        assert!(!texts.iter().any(|t| t == "http_hello"));
        // gort's ratio beside its bar, the cut smol bar's value, the best
        // other crate's name, the legend.
        for text in ["0.60", "5.00", "4.10 crossbeam", "smol", "best other crate"] {
            assert!(texts.iter().any(|t| t == text), "{text} missing: {texts:?}");
        }
    }
}
