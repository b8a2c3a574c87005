//! The SVG chart of a comparison (`bench/results.svg`): grouped bars on a logarithmic y axis,
//! one group per workload, one bar per peer, each bar the peer's median in the workload's unit;
//! a red cross marks a peer whose every run failed.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::compare::{Peer, Results};
use crate::Runtime;

const SIZE: (u32, u32) = (1280, 720);

/// Draws `results` as an SVG file at `path`, with `subtitle` under the title.
pub fn draw(results: &Results, subtitle: &str, path: &Path) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(96);
    header.draw(&Text::new(
        "goro-bench: median of each peer per workload (log scale; lower is better)",
        (20, 12),
        ("sans-serif", 22).into_font(),
    ))?;
    header.draw(&Text::new(
        subtitle,
        (20, 40),
        ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    let mut x = 20;
    for &peer in &results.peers {
        let name = peer.name();
        header.draw(&Rectangle::new(
            [(x, 66), (x + 14, 80)],
            color(peer).filled(),
        ))?;
        header.draw(&Text::new(
            name,
            (x + 20, 66),
            ("sans-serif", 15).into_font(),
        ))?;
        x += 20 + 9 * name.len() as i32 + 24;
    }

    let medians = || results.cells.iter().flatten().filter_map(|c| c.median());
    let positive = || medians().filter(|&m| m > 0.0);
    let low = positive().fold(f64::INFINITY, f64::min);
    let high = positive().fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if low.is_finite() {
        (low / 2.0, high * 2.0)
    } else {
        (1.0, 10.0)
    };
    let groups = results.workloads.len();
    let mut chart = ChartBuilder::on(&body)
        .margin(20)
        .x_label_area_size(70)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..groups as f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("median, in the workload's unit")
        .y_label_formatter(&|v| short(*v))
        .draw()?;

    let width = 0.8 / results.peers.len().max(1) as f64;
    let slot = |w: usize, p: usize| w as f64 + 0.1 + p as f64 * width;
    for (p, &peer) in results.peers.iter().enumerate() {
        let bars = results.cells.iter().enumerate().filter_map(|(w, cells)| {
            let m = cells[p].median().filter(|&m| m > 0.0)?;
            Some(Rectangle::new(
                [(slot(w, p), low), (slot(w, p) + width * 0.9, m)],
                color(peer).filled(),
            ))
        });
        chart.draw_series(bars)?;
    }
    // A red cross where every run of a peer failed.
    let cross = ("sans-serif", 22)
        .into_font()
        .color(&RED)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for (w, cells) in results.cells.iter().enumerate() {
        for (p, cell) in cells.iter().enumerate() {
            if cell.samples.is_empty() && !cell.failures.is_empty() {
                let at = (slot(w, p) + width * 0.45, low);
                chart.draw_series(std::iter::once(Text::new("x", at, cross.clone())))?;
            }
        }
    }

    // Workload names under each group, split at the first '_', with the unit below.
    let label = ("sans-serif", 14).into_font();
    let centred = Pos::new(HPos::Center, VPos::Top);
    for (w, workload) in results.workloads.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(w as f64 + 0.5, low));
        let (head, tail) = workload.name.split_once('_').unwrap_or((workload.name, ""));
        let lines = [
            (head, BLACK),
            (tail, BLACK),
            (workload.unit, RGBColor(110, 110, 110)),
        ];
        for (i, (text, colour)) in lines.into_iter().enumerate() {
            let style = label.clone().color(&colour).pos(centred);
            root.draw(&Text::new(text, (px, py + 8 + 17 * i as i32), style))?;
        }
    }
    root.present()?;
    Ok(())
}

/// A bar colour per peer, Go in its own blue.
fn color(peer: Peer) -> RGBColor {
    match peer {
        Peer::Go => RGBColor(0, 173, 216),
        Peer::Rust(Runtime::Goro) => RGBColor(228, 87, 46),
        Peer::Rust(Runtime::Tokio) => RGBColor(91, 94, 166),
        Peer::Rust(Runtime::May) => RGBColor(155, 197, 61),
        Peer::Rust(Runtime::Crossbeam) => RGBColor(240, 180, 20),
        Peer::Rust(Runtime::Std) => RGBColor(127, 127, 127),
        Peer::Rust(Runtime::ParkingLot) => RGBColor(140, 86, 75),
    }
}

/// An axis number without trailing noise: 20, 0.5, 2k, 3M.
fn short(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{v}"),
    }
}
