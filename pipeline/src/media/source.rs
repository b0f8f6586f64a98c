//! Video in: a GStreamer pipeline that decodes a URI (file, RTSP, HTTP) or
//! frames pushed over the API, and hands out frames already converted and
//! letterboxed to the model's input size by GStreamer itself (no pixel
//! loops in Rust), plus the full-size frames for crops, outputs and
//! `GET .../frame`.
//!
//! ```text
//! uridecodebin | appsrc ! decodebin | appsrc (pushed images, decoded RGB)
//!   ! videoconvert ! I420 ! clocksync (files at their own pace) ! tee
//!     ! [thinned] queue (1) ! videoscale add-borders ! I420 WxH, par 1/1 ! videoconvert ! RGB
//!       ! appsink "model" (1)
//!     ! [thinned] queue ! appsink "full" (full-size I420, newest 4)
//! ```
//!
//! The tee carries the decoder's own YUV (pushed images come decoded, by
//! [`crate::still`], as RGB of their own size, one caps per image, and are
//! converted once): the model branch scales it to
//! the model's size and only then converts it, and the full-size branch
//! costs nothing until a crop is cut or a frame encoded. There is no JPEG
//! branch: the worker encodes the processed frame only when someone asks
//! for it (a branch encoding two frames a second of every instance, asked
//! for or not, cost about as much as decoding the test clip). On a
//! two-core machine every conversion skipped is time the model gets.
//!
//! Memory: a decoded frame lives until every branch is done with it, so
//! the decoder is kept close to the model. Files played at their own pace
//! wait in `clocksync` before the tee rather than in queues in front of a
//! pacing sink, and the model branch holds one frame in its queue and one
//! in its sink: a running instance holds a handful of full-size frames.
//! When the model is busy, a source read in real time (a camera, pushed
//! frames, a file at its own pace) keeps only its newest frame in the
//! model's sink and lets the older one go, counted as dropped: its decoder
//! never waits with frames held all along the branch (before, the memory
//! stepped up 19-27 MB at once near 10 instances at 5 frames/s on two
//! cores, when the model became fully booked: 2-2.7 MB per instance). A file
//! read as fast as the model goes holds its decoder back instead, so that
//! every frame is processed.
//!
//! `frameRateLimit` is applied in the pipeline too ("thinned" above): a
//! probe in front of the model branch and one in front of the crop branch
//! drop the frames the worker would skip, by the same rule ([`too_soon`])
//! on the same timestamps, before they are converted or kept. At 5 of a
//! camera's 25 frames/s that is four conversions in five saved, and the
//! worker wakes for the frames it takes only. The worker keeps its own
//! check for what the probes cannot know (stream time across file loops).
//!
//! The pipeline is built in [`Source::open`] and torn down (state `Null`)
//! when the `Source` is dropped, on every path.
//!
//! The worker sees a source through [`FrameSource`] and opens one through
//! [`OpenSource`], so its logic is tested with fakes; [`Source`] and
//! [`GstOpener`] are the GStreamer implementation.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::error::{GstError, SourceError};
use super::lock;
use crate::runtime::PushedData;
use crate::still::Still;

/// Full-size frames kept for crops and outputs at or before the newest
/// frame handed to the worker: the frames in its detector (three at most)
/// and one to spare. Kept apart from the newer ones, so that a camera's
/// frames arriving while the model is busy never push out the frame whose
/// detections are still to come.
const HELD_FRAMES: usize = 4;

/// Full-size frames kept newer than the newest frame handed to the worker
/// (the crop branch's sink holds as many): those between the tee and the
/// worker, with one to spare.
const AHEAD_FRAMES: usize = 4;

/// How long a model frame waits for its full-size frame when the crop
/// branch's thread has not delivered it yet (the tee gave it out before the
/// model's copy was even scaled): otherwise, with the worker then busy for
/// a few frames, the crop branch's sink could let it go for newer ones.
const FULL_FRAME_WAIT: Duration = Duration::from_millis(5);

/// The most bytes a pushed input's source holds (pushed images come
/// decoded: an 8K one is 100 MB). It takes a frame only below
/// [`PUSHED_WAITING`] frames and this, so frames wait in the worker's
/// bounded queue instead, where a full queue is told to the client (409).
const PUSHED_BYTES: u64 = 64 << 20;

/// The most pushed frames a pushed input's source holds before it takes
/// another.
const PUSHED_WAITING: u64 = 2;

/// Source size changes kept for frames not taken yet (a handful at most
/// are in the model branch).
const SIZE_CHANGES: usize = 8;

/// Frames by presentation time (ms, if known), oldest first.
type Timed<T> = VecDeque<(Option<i64>, T)>;

/// The frame closest to `pts_ms` in `frames` (of equally close ones, the
/// newer); without a time, the newest. The frames older than it are
/// dropped; it and the newer ones stay: a newer frame given for a missing
/// one is still there at its own turn, and the worker forgets each frame
/// once it is done with it ([`forget_through`]).
fn closest<T>(frames: &mut Timed<T>, pts_ms: Option<i64>) -> Option<&T> {
    let i = match pts_ms {
        None => frames.len().checked_sub(1)?,
        Some(t) => {
            let distance = |pts: Option<i64>| pts.map_or(i64::MAX, |p| (p - t).abs());
            let (i, _) = frames
                .iter()
                .enumerate()
                .min_by(|a, b| distance(a.1.0).cmp(&distance(b.1.0)).then(b.0.cmp(&a.0)))?;
            i
        }
    };
    frames.drain(..i);
    frames.front().map(|(_, f)| f)
}

/// Drops the frame at `pts_ms`, and only it (one the worker skips: no crop
/// or output will ask for it, while older ones may still be asked for).
fn forget_at<T>(frames: &mut Timed<T>, pts_ms: Option<i64>) {
    if pts_ms.is_some() {
        frames.retain(|(p, _)| *p != pts_ms);
    }
}

/// Drops the frames up to `pts_ms` (a frame the worker is done with: no
/// crop or output will ask for it, or for older ones, any more).
fn forget_through<T>(frames: &mut Timed<T>, pts_ms: Option<i64>) {
    let Some(t) = pts_ms else { return };
    while frames.front().is_some_and(|(p, _)| p.is_some_and(|p| p <= t)) {
        frames.pop_front();
    }
}

/// Drops the frames after the model's previous frame (`last`) and before
/// its new one at `pts_ms`: the model's sink let them go for newer ones,
/// and the worker asks only for frames the model saw.
fn forget_between<T>(frames: &mut Timed<T>, last: Option<i64>, pts_ms: i64) {
    frames.retain(|(p, _)| !p.is_some_and(|p| p < pts_ms && last.is_none_or(|l| p > l)));
}

/// Bounds `frames`: of those at or before the model's newest frame
/// (`model`), the newest `held`; of the newer ones (and any without a
/// time), the newest `ahead`. The oldest of each go first.
fn keep_newest<T>(frames: &mut Timed<T>, model: Option<i64>, held: usize, ahead: usize) {
    let is_held = |p: &Option<i64>| p.zip(model).is_some_and(|(p, m)| p <= m);
    let n_held = frames.iter().filter(|(p, _)| is_held(p)).count();
    let mut drop_held = n_held.saturating_sub(held);
    let mut drop_ahead = (frames.len() - n_held).saturating_sub(ahead);
    frames.retain(|(p, _)| {
        let surplus = if is_held(p) { &mut drop_held } else { &mut drop_ahead };
        let keep = *surplus == 0;
        *surplus = surplus.saturating_sub(1);
        keep
    });
}

/// The value in force at `pts_ms` among `changes` (each with the time of
/// the first frame it applies to, oldest first), dropping the ones it
/// supersedes; without a time, the newest. Frames are asked for in stream
/// order, so a change once passed is not needed again.
fn in_force_at<T: Copy>(changes: &mut Timed<T>, pts_ms: Option<i64>) -> Option<T> {
    let starts_by = |start: Option<i64>| match (start, pts_ms) {
        (Some(s), Some(t)) => s <= t,
        _ => true,
    };
    while changes.len() > 1 && starts_by(changes[1].0) {
        changes.pop_front();
    }
    changes.front().map(|&(_, v)| v)
}

/// `frameRateLimit`'s rule: a frame at `time_ms` comes too soon when less
/// than one frame interval at `limit` frames/s (less 1 ms, for times
/// rounded to the millisecond) has passed since the last frame taken, at
/// `last_ms`. No limit (0), or no frame taken yet: never.
pub fn too_soon(time_ms: i64, last_ms: Option<i64>, limit: f64) -> bool {
    limit > 0.0 && last_ms.is_some_and(|last| ((time_ms - last) as f64) < 1000.0 / limit - 1.0)
}

/// `frameRateLimit` on one branch of a source: which of its frames pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct RateGate {
    /// The time of the last frame let through.
    last_ms: Option<i64>,
}

impl RateGate {
    /// Whether the frame at `pts_ms` passes at `limit` frames/s (0: all
    /// do). A time that goes back (a new segment) passes and counts from
    /// there, rather than every frame being dropped until the stream
    /// catches up.
    pub fn pass(&mut self, pts_ms: i64, limit: f64) -> bool {
        if self.last_ms.is_some_and(|l| l <= pts_ms) && too_soon(pts_ms, self.last_ms, limit) {
            return false;
        }
        self.last_ms = Some(pts_ms);
        true
    }
}

/// Frames a model sink that keeps only the newest frame has let go for a
/// newer one, at least `reported` (a count never goes back): of the
/// `received` frames, `pulled` were taken and one at most is held. (A frame
/// counted as it arrives, while the worker takes the one held, may count
/// one too many; a frame held at the end is not counted.)
fn replaced(received: u64, pulled: u64, reported: u64) -> u64 {
    received.saturating_sub(pulled + 1).max(reported)
}

/// What the pipeline's probes count and apply, shared with them.
#[derive(Debug, Default)]
struct Thinning {
    /// `frameRateLimit` in frames/s (an `f64`'s bits; 0: none).
    limit: AtomicU64,
    /// Frames the model branch's probe dropped, not yet told to the worker.
    dropped: AtomicU64,
    /// Frames that reached the model's sink, when it keeps only the newest.
    received: AtomicU64,
    /// The source frame size each time it changed, with the time of the
    /// first frame of that size, as the model branch saw it: the frames in
    /// the branch, ahead of the one the worker takes, may already be of a
    /// new size (pushed images of several sizes, a camera that
    /// renegotiates).
    sizes: Mutex<Timed<(u32, u32)>>,
}

impl Thinning {
    /// Drops the buffers `frameRateLimit` skips before they reach `pad`
    /// (counting them when `count`); buffers without a timestamp pass (the
    /// worker decides).
    fn probe(self: &Arc<Self>, pad: &gst::Pad, count: bool) {
        let thinning = self.clone();
        let gate = Mutex::new(RateGate::default());
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let Some(pts_ms) = info.buffer().and_then(|b| b.pts()).map(|t| t.mseconds() as i64)
            else {
                return gst::PadProbeReturn::Ok;
            };
            let limit = f64::from_bits(thinning.limit.load(Ordering::Relaxed));
            if lock(&gate).pass(pts_ms, limit) {
                return gst::PadProbeReturn::Ok;
            }
            if count {
                thinning.dropped.fetch_add(1, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Drop
        });
    }

    /// Records in `sizes` each new source frame size reaching `pad`, at the
    /// first frame of that size.
    fn watch_sizes(self: &Arc<Self>, pad: &gst::Pad) {
        let thinning = self.clone();
        let pending = Mutex::new(None);
        let events = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
        pad.add_probe(events, move |_, info| {
            match &info.data {
                Some(gst::PadProbeData::Event(e)) => {
                    if let gst::EventView::Caps(c) = e.view() {
                        *lock(&pending) = gst_video::VideoInfo::from_caps(c.caps())
                            .ok()
                            .map(|i| (i.width(), i.height()));
                    }
                }
                Some(gst::PadProbeData::Buffer(b)) => {
                    if let Some(size) = lock(&pending).take() {
                        let mut sizes = lock(&thinning.sizes);
                        if sizes.back().is_none_or(|&(_, s)| s != size) {
                            sizes.push_back((b.pts().map(|t| t.mseconds() as i64), size));
                        }
                        // A worker that stopped taking frames: keep the
                        // newest few.
                        while sizes.len() > SIZE_CHANGES {
                            sizes.pop_front();
                        }
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// A frame's bytes: GStreamer's own buffer, mapped for reading (no copy),
/// or bytes of our own (fakes, tests).
pub enum Pixels {
    Mapped(gst::MappedBuffer<gst::buffer::Readable>),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Pixels {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Pixels::Mapped(m) => m.as_slice(),
            Pixels::Owned(v) => v,
        }
    }
}

impl From<Vec<u8>> for Pixels {
    fn from(v: Vec<u8>) -> Self {
        Pixels::Owned(v)
    }
}

impl std::fmt::Debug for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.len())
    }
}

/// One packed RGB frame, letterboxed to the model's size.
#[derive(Debug)]
pub struct RgbFrame {
    /// Packed RGB rows, `stride` bytes apart.
    pub data: Pixels,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    /// Presentation time in the stream, milliseconds.
    pub pts_ms: Option<i64>,
}

/// A full-size I420 frame (for crops): three planes in one buffer.
#[derive(Debug)]
pub struct YuvFrame {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Byte offset and stride of the Y, U and V planes.
    pub offsets: [usize; 3],
    pub strides: [usize; 3],
    pub pts_ms: Option<i64>,
}

/// What the source produced.
#[derive(Debug)]
pub enum Next {
    Frame(RgbFrame),
    /// Nothing within the timeout (a live source may be slow).
    Timeout,
    /// End of stream.
    Eos,
    /// The pipeline failed; the error names the element and the cause.
    Error(SourceError),
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A URI GStreamer can open (`file://`, `rtsp://`, `http(s)://`).
    Uri(String),
    /// Frames pushed over the API, as still images (JPEG, PNG, BMP),
    /// decoded in Rust ([`crate::still`]) before they reach the source.
    PushedImages,
    /// Frames pushed over the API, as an H.264 or H.265 byte stream.
    PushedVideo { h265: bool },
}

impl SourceKind {
    /// A URI read like a file: its frames come as fast as they are taken
    /// unless paced.
    fn is_file_like(&self) -> bool {
        matches!(self, SourceKind::Uri(u) if !u.starts_with("rtsp"))
    }

    /// Whether this input, read with `realtime` as given, keeps every frame
    /// for the model: a file read as fast as the model goes, whose decoder
    /// waits for it. Live and pushed inputs, and files read in real time,
    /// keep only the newest frame.
    pub fn keeps_every_frame(&self, realtime: bool) -> bool {
        self.is_file_like() && !realtime
    }

    /// For logs and error messages: the URI's password masked.
    pub fn redacted(&self) -> String {
        match self {
            SourceKind::Uri(u) => crate::secrets::mask_uri(u),
            other => format!("{other:?}"),
        }
    }

    /// `message` with this source's password (if any) masked: GStreamer's
    /// errors may quote the location.
    pub fn redact(&self, message: &str) -> String {
        match self {
            SourceKind::Uri(u) => crate::secrets::redact_password(u, message),
            _ => message.to_string(),
        }
    }
}

/// An open video input, as the worker uses it.
pub trait FrameSource {
    /// The next model frame, an end of stream, an error, or a timeout after
    /// waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Next;
    /// The full-size frame closest to `pts_ms` among the newest few.
    fn full_frame(&mut self, pts_ms: Option<i64>) -> Option<YuvFrame>;
    /// The worker is done with the model frame at `pts_ms`: the full-size
    /// frames up to it may go.
    fn passed(&mut self, pts_ms: Option<i64>);
    /// The worker skips the model frame at `pts_ms` (`frameRateLimit`): its
    /// full-size frame may go. (A source that keeps none has nothing to do.)
    fn skipped(&mut self, _pts_ms: Option<i64>) {}
    /// Sets `frameRateLimit` (frames/s; 0: none) for a source that skips
    /// frames itself, before the worker sees them, by [`too_soon`]; returns
    /// how many frames it has dropped since the last call: skipped for the
    /// limit, or let go for a newer one while the worker was busy. (A
    /// source that does neither: nothing to do, 0.)
    fn thin(&mut self, _limit: f64) -> u64 {
        0
    }
    /// The source frame size of the last frame [`FrameSource::next`] gave,
    /// once known.
    fn source_size(&self) -> Option<(u32, u32)>;
    /// Whether a pushed input takes another pushed frame now: frames wait
    /// in the worker's bounded queue (where a full queue is a 409) rather
    /// than in the pipeline. (A source that holds none: always.)
    fn takes_push(&self) -> bool {
        true
    }
    /// Hands a pushed frame (client timestamp in Unix ms, if given) to a
    /// pushed input.
    fn push(&mut self, data: PushedData, timestamp_ms: Option<i64>) -> Result<(), SourceError>;
    /// For pushed frames: the Unix time (ms) of stream time 0, once a frame
    /// has been pushed.
    fn push_epoch_ms(&self) -> Option<i64>;
}

/// Opens video inputs.
pub trait OpenSource: Send {
    /// Opens `kind`, delivering model frames letterboxed to `size` (width,
    /// height). `realtime` paces files at their own frame rate; `login`
    /// (user, password) is for an RTSP input given without user information.
    fn open(
        &self,
        kind: &SourceKind,
        size: (u32, u32),
        realtime: bool,
        login: Option<(String, String)>,
    ) -> Result<Box<dyn FrameSource>, SourceError>;
}

/// Opens GStreamer [`Source`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct GstOpener;

impl OpenSource for GstOpener {
    fn open(
        &self,
        kind: &SourceKind,
        (width, height): (u32, u32),
        realtime: bool,
        login: Option<(String, String)>,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        Ok(Box::new(Source::open(kind, width, height, realtime, login)?))
    }
}

/// Stream time of pushed frames: stream time 0 is the first frame's
/// timestamp (Unix ms). A timestamp a little before the previous one is
/// moved just after it, as decoders need; one more than [`NEW_SEGMENT_MS`]
/// before it (a clip pushed again from its start) begins a new segment,
/// which goes on just after the previous frame at the frames' own pace
/// rather than one millisecond a frame. Times stay within what GStreamer
/// can hold ([`MAX_PTS_MS`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushClock {
    /// (epoch ms of stream time 0, last pts in ms, ms added to timestamps
    /// by the segments so far), once a frame was pushed.
    state: Option<(i64, i64, i64)>,
}

/// How far back a pushed timestamp must go to begin a new segment.
const NEW_SEGMENT_MS: i64 = 1_000;

/// The latest stream time of a pushed frame: about 300 years, well inside
/// GStreamer's clock (`ClockTime::from_mseconds` panics past 584 years).
const MAX_PTS_MS: i64 = 10_000_000_000_000;

impl PushClock {
    /// The pts (ms) of a frame stamped `timestamp_ms`.
    pub fn pts_ms(&mut self, timestamp_ms: i64) -> i64 {
        let (epoch, last, mut shift) = *self.state.get_or_insert((timestamp_ms, -1, 0));
        let mut pts = timestamp_ms.saturating_sub(epoch).saturating_add(shift);
        if pts < last.saturating_sub(NEW_SEGMENT_MS) {
            shift = shift.saturating_add((last + 1).saturating_sub(pts));
        }
        pts = pts.max(last + 1).clamp(0, MAX_PTS_MS);
        self.state = Some((epoch, pts, shift));
        pts
    }

    /// The Unix time (ms) of stream time 0, once a frame has been pushed.
    pub fn epoch_ms(&self) -> Option<i64> {
        self.state.map(|(epoch, _, _)| epoch)
    }
}

/// A running GStreamer decode pipeline.
#[derive(Debug)]
pub struct Source {
    pipeline: gst::Pipeline,
    model: gst_app::AppSink,
    full: gst_app::AppSink,
    /// Full-size frames pulled from `full` (their buffers, not copies) and
    /// not handed out yet, oldest first: those of the frames in the
    /// worker's detector, and frames ahead of the model's newest one, which
    /// wait here for their turn; older ones are dropped as the model moves
    /// on ([`HELD_FRAMES`], [`AHEAD_FRAMES`]).
    ahead: Timed<gst::Sample>,
    /// The time of the newest model frame handed out.
    last_model: Option<i64>,
    push: Option<gst_app::AppSrc>,
    /// The source size of the last model frame handed out.
    source_size: Option<(u32, u32)>,
    /// Stream time of pushed frames.
    push_clock: PushClock,
    /// `frameRateLimit` in the pipeline, and what the probes counted.
    thinning: Arc<Thinning>,
    /// Whether the model's sink keeps only the newest frame (live sources,
    /// files read in real time), rather than holding the decoder back.
    newest_wins: bool,
    /// Frames taken from the model's sink.
    pulled: u64,
    /// Frames the model's sink let go for newer ones, told to the worker.
    replaced: u64,
}

/// A GStreamer element of this factory.
pub(super) fn element(factory: &str) -> Result<gst::Element, GstError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|source| GstError::MissingElement { factory: factory.into(), source })
}

/// The sink pad of `element` (made from `factory`, named in the error).
fn sink_pad(element: &impl IsA<gst::Element>, factory: &'static str) -> Result<gst::Pad, GstError> {
    element.static_pad("sink").ok_or(GstError::MissingPad(factory, "sink"))
}

/// The source of a pushed input. Buffers carry the client's timestamps (see
/// [`FrameSource::push`]).
fn pushed_src() -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
        .is_live(true)
        .format(gst::Format::Time)
        .do_timestamp(false)
        .max_bytes(PUSHED_BYTES)
        .build()
}

/// Initialises GStreamer once per process.
pub fn init() -> Result<(), GstError> {
    gst::init().map_err(GstError::Init)
}

/// Whether a URI carries `user@` or `user:password@`.
fn has_userinfo(uri: &str) -> bool {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    rest.split('/').next().is_some_and(|authority| authority.contains('@'))
}

impl Source {
    /// Builds and starts the pipeline. `realtime` paces files at their own
    /// frame rate (`sync`); otherwise frames come as fast as they are taken.
    /// `login` (user, password) is given to an RTSP source whose URI has no
    /// user information, through its properties, so it never shows in a URI.
    pub fn open(
        kind: &SourceKind,
        width: u32,
        height: u32,
        realtime: bool,
        login: Option<(String, String)>,
    ) -> Result<Self, SourceError> {
        init()?;
        let pipeline = gst::Pipeline::new();
        let convert = element("videoconvert")?;
        let yuv = element("capsfilter")?;
        yuv.set_property("caps", gst::Caps::builder("video/x-raw").field("format", "I420").build());
        // Files read at their own pace are paced here, before the tee: a
        // frame is decoded ahead of its time only as far as the decoder's
        // own references need, instead of queuing, full size, in front of
        // a pacing sink.
        let pace = element("clocksync")?;
        pace.set_property("sync", kind.is_file_like() && realtime);
        let tee = element("tee")?;
        // A short queue: a file read as fast as the model goes is decoded no
        // further ahead of the model than this, so the crop branch holds the
        // very frames the model sees.
        let q_model = element("queue")?;
        q_model.set_property("max-size-buffers", 1u32);
        q_model.set_property("max-size-time", 0u64);
        q_model.set_property("max-size-bytes", 0u32);
        // Scaled first, still I420, then converted at the model's size: half
        // the time of one `videoconvertscale` doing both (768x576 into
        // 416x416: 0.57 against 1.05 ms a frame), which converts before
        // it scales. In I420 the picture starts on an even row and column
        // ([`crate::detect::Letterbox`] says where), and the borders are
        // video black: RGB 0, or 16 for full-range sources (MJPEG cameras).
        let scale = element("videoscale")?;
        scale.set_property("add-borders", true);
        let sized = |format: &str| {
            gst::Caps::builder("video/x-raw")
                .field("format", format)
                .field("width", width as i32)
                .field("height", height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build()
        };
        let scaled = element("capsfilter")?;
        scaled.set_property("caps", sized("I420"));
        let to_rgb = element("videoconvert")?;
        let model_caps = sized("RGB");
        // Live and pushed sources, and files read in real time (paced at
        // their frame rate by `pace`), keep only the newest frame: a model
        // that cannot keep up skips frames (counted) instead of falling
        // behind, and the decoder is never held back with frames waiting
        // behind it. Files read as fast as the model goes hold the decoder
        // back instead: every frame is processed.
        let newest_wins = !kind.keeps_every_frame(realtime);
        let thinning = Arc::new(Thinning::default());
        let model_in = sink_pad(&q_model, "queue")?;
        thinning.probe(&model_in, true);
        thinning.watch_sizes(&model_in);
        let model = gst_app::AppSink::builder()
            .caps(&model_caps)
            .max_buffers(1)
            .drop(newest_wins)
            .sync(false)
            .build();
        if newest_wins {
            // What reaches the sink, to count what it lets go.
            let counted = thinning.clone();
            sink_pad(&model, "appsink")?.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counted.received.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        }
        let q_full = element("queue")?;
        q_full.set_property_from_str("leaky", "downstream");
        thinning.probe(&sink_pad(&q_full, "queue")?, false);
        let full_caps = gst::Caps::builder("video/x-raw").field("format", "I420").build();
        let full = gst_app::AppSink::builder()
            .caps(&full_caps)
            .max_buffers(AHEAD_FRAMES as u32)
            .drop(true)
            .sync(false)
            .build();

        pipeline
            .add_many([&convert, &yuv, &pace, &tee, &q_model, &scale, &scaled, &to_rgb])
            .map_err(GstError::from)?;
        pipeline
            .add_many([&q_full, model.upcast_ref(), full.upcast_ref()])
            .map_err(GstError::from)?;
        gst::Element::link_many([&convert, &yuv, &pace, &tee]).map_err(GstError::from)?;
        gst::Element::link_many([&tee, &q_model, &scale, &scaled, &to_rgb, model.upcast_ref()])
            .map_err(GstError::from)?;
        gst::Element::link_many([&tee, &q_full, full.upcast_ref()]).map_err(GstError::from)?;

        let mut push = None;
        // The element whose pads appear once the stream is known; pushed
        // images come decoded, straight into `convert`.
        let decode = match kind {
            SourceKind::Uri(uri) => {
                let d = element("uridecodebin")?;
                d.set_property("uri", uri);
                if let Some((user, password)) = login.filter(|_| !has_userinfo(uri)) {
                    d.connect("source-setup", false, move |args| {
                        let src = args[1].get::<gst::Element>().ok()?;
                        if src.find_property("user-id").is_some() {
                            src.set_property("user-id", &user);
                            src.set_property("user-pw", &password);
                        }
                        None
                    });
                }
                pipeline.add(&d).map_err(GstError::from)?;
                Some(d)
            }
            SourceKind::PushedImages => {
                // Each image brings its caps (raw RGB of its size).
                let src = pushed_src();
                pipeline.add(&src).map_err(GstError::from)?;
                src.link(&convert).map_err(GstError::from)?;
                push = Some(src);
                None
            }
            SourceKind::PushedVideo { h265 } => {
                let src = pushed_src();
                let caps = gst::Caps::builder(if *h265 { "video/x-h265" } else { "video/x-h264" })
                    .field("stream-format", "byte-stream")
                    .build();
                src.set_caps(Some(&caps));
                let d = element("decodebin")?;
                pipeline
                    .add_many([src.upcast_ref::<gst::Element>(), &d])
                    .map_err(GstError::from)?;
                src.link(&d).map_err(GstError::from)?;
                push = Some(src);
                Some(d)
            }
        };
        // Decoders expose their pads once the stream is known.
        let convert_sink = sink_pad(&convert, "videoconvert")?;
        if let Some(d) = &decode {
            d.connect_pad_added(move |_, pad| {
                let is_video = pad
                    .current_caps()
                    .or_else(|| Some(pad.query_caps(None)))
                    .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                    .unwrap_or(false);
                if is_video && !convert_sink.is_linked() {
                    let _ = pad.link(&convert_sink);
                }
            });
        }
        let source = Source {
            pipeline,
            model,
            full,
            ahead: VecDeque::new(),
            last_model: None,
            push,
            source_size: None,
            push_clock: PushClock::default(),
            thinning,
            newest_wins,
            pulled: 0,
            replaced: 0,
        };
        if let Err(e) = source.pipeline.set_state(gst::State::Playing) {
            // The bus says why (a missing file, an unreachable camera).
            let why = source.bus_error().map_or_else(|| e.to_string(), |b| b.to_string());
            return Err(SourceError::Open(why));
        }
        Ok(source)
    }

    /// Moves the full-size frames the crop branch has delivered into
    /// `ahead`, then bounds it ([`keep_newest`]).
    fn pull_full(&mut self) {
        self.drain_full_until(None);
        keep_newest(&mut self.ahead, self.last_model, HELD_FRAMES, AHEAD_FRAMES);
    }

    /// Moves the delivered full-size frames into `ahead`; with `until`, it
    /// waits up to [`FULL_FRAME_WAIT`] for one at or after that time (the
    /// frame itself, or a newer one if it was not kept).
    fn drain_full_until(&mut self, until: Option<i64>) {
        let deadline = Instant::now() + FULL_FRAME_WAIT;
        let arrived = |ahead: &Timed<gst::Sample>, t: i64| {
            ahead.iter().any(|(p, _)| p.is_some_and(|p| p >= t))
        };
        loop {
            let wait = match until {
                Some(t) if !arrived(&self.ahead, t) => {
                    deadline.saturating_duration_since(Instant::now())
                }
                _ => Duration::ZERO,
            };
            let wait = gst::ClockTime::from_nseconds(wait.as_nanos() as u64);
            let Some(sample) = self.full.try_pull_sample(wait) else { return };
            let pts_ms = sample.buffer().and_then(|b| b.pts()).map(|t| t.mseconds() as i64);
            self.ahead.push_back((pts_ms, sample));
        }
    }

    fn bus_error(&self) -> Option<SourceError> {
        let bus = self.pipeline.bus()?;
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Some(SourceError::Stream {
                    element: err.src().map(|s| s.path_string().to_string()).unwrap_or_default(),
                    message: err.error().to_string(),
                    debug: err.debug().map(|d| d.to_string()),
                });
            }
        }
        None
    }
}

impl FrameSource for Source {
    fn next(&mut self, timeout: Duration) -> Next {
        if let Some(err) = self.bus_error() {
            return Next::Error(err);
        }
        let timeout = gst::ClockTime::from_mseconds(timeout.as_millis() as u64);
        match self.model.try_pull_sample(timeout) {
            Some(sample) => match frame_of(&sample) {
                Ok(f) => {
                    self.pulled += 1;
                    // The frames the model's sink let go are dropped before
                    // the bound, which must not count them among the held.
                    self.drain_full_until(f.pts_ms);
                    if let Some(p) = f.pts_ms {
                        forget_between(&mut self.ahead, self.last_model, p);
                        self.last_model = Some(p);
                    }
                    keep_newest(&mut self.ahead, self.last_model, HELD_FRAMES, AHEAD_FRAMES);
                    let size = in_force_at(&mut lock(&self.thinning.sizes), f.pts_ms);
                    self.source_size = size.or(self.source_size);
                    Next::Frame(f)
                }
                Err(e) => Next::Error(e),
            },
            None if self.model.is_eos() => Next::Eos,
            None => self.bus_error().map_or(Next::Timeout, Next::Error),
        }
    }

    /// The crop branch runs at most a few frames ahead of the model. Frames
    /// older than the one handed out are dropped; newer ones are kept for
    /// the next calls (the outputs ask for every frame, and a frame drained
    /// early would leave no exact match for the next crop).
    fn full_frame(&mut self, pts_ms: Option<i64>) -> Option<YuvFrame> {
        self.pull_full();
        closest(&mut self.ahead, pts_ms).and_then(|s| yuv_frame_of(s).ok())
    }

    /// Full frames the worker has passed are not kept (they would wait,
    /// full size, until a crop or an output asks).
    fn passed(&mut self, pts_ms: Option<i64>) {
        forget_through(&mut self.ahead, pts_ms);
    }

    /// A skipped frame's full frame would otherwise wait, full size, until
    /// the next processed frame passes it: at 5 frames/s of a 25 frames/s
    /// camera, the four skipped in between. (`next` has just pulled the
    /// full frames that came with it.)
    fn skipped(&mut self, pts_ms: Option<i64>) {
        forget_at(&mut self.ahead, pts_ms);
    }

    /// The probes read the limit at each frame. The frames the model's
    /// sink let go for newer ones count too.
    fn thin(&mut self, limit: f64) -> u64 {
        self.thinning.limit.store(limit.to_bits(), Ordering::Relaxed);
        let thinned = self.thinning.dropped.swap(0, Ordering::Relaxed);
        if !self.newest_wins {
            return thinned;
        }
        let received = self.thinning.received.load(Ordering::Relaxed);
        let replaced = replaced(received, self.pulled, self.replaced);
        let newly = replaced - self.replaced;
        self.replaced = replaced;
        thinned + newly
    }

    /// The size of the last model frame's source frame (sizes may change
    /// from frame to frame).
    fn source_size(&self) -> Option<(u32, u32)> {
        self.source_size
    }

    fn takes_push(&self) -> bool {
        self.push.as_ref().is_some_and(|s| {
            s.current_level_buffers() < PUSHED_WAITING && s.current_level_bytes() < PUSHED_BYTES
        })
    }

    /// Stamps the frame with the client's timestamp (arrival time when
    /// absent), through the [`PushClock`]. An image goes with its own caps
    /// (raw RGB of its size): images may differ in size.
    fn push(&mut self, data: PushedData, timestamp_ms: Option<i64>) -> Result<(), SourceError> {
        let src = self.push.as_ref().ok_or(SourceError::NotPushed)?;
        let ts = timestamp_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let pts = gst::ClockTime::from_mseconds(self.push_clock.pts_ms(ts) as u64);
        let stamped = |mut buffer: gst::Buffer| {
            if let Some(b) = buffer.get_mut() {
                // A fresh buffer is always writable.
                b.set_pts(pts);
            }
            buffer
        };
        let pushed = match data {
            PushedData::Image(still) => {
                let (buffer, caps) = raw_rgb(still)?;
                let sample = gst::Sample::builder().buffer(&stamped(buffer)).caps(&caps).build();
                src.push_sample(&sample)
            }
            PushedData::H264(d) | PushedData::H265(d) => {
                src.push_buffer(stamped(gst::Buffer::from_mut_slice(d)))
            }
        };
        pushed.map(|_| ()).map_err(SourceError::Push)
    }

    fn push_epoch_ms(&self) -> Option<i64> {
        self.push_clock.epoch_ms()
    }
}

/// A sample's video info and buffer.
fn sample_parts(
    sample: &gst::Sample,
) -> Result<(gst_video::VideoInfo, &gst::BufferRef), SourceError> {
    let caps = sample.caps().ok_or(SourceError::Frame("a frame without caps".into()))?;
    let info = gst_video::VideoInfo::from_caps(caps)
        .map_err(|e| SourceError::Frame(format!("unexpected frame caps: {e}")))?;
    let buffer = sample.buffer().ok_or(SourceError::Frame("a sample without a buffer".into()))?;
    Ok((info, buffer))
}

/// A decoded still as a raw video buffer and its caps. GStreamer's RGB rows
/// start on 4-byte boundaries: rows of other lengths are padded.
fn raw_rgb(still: Still) -> Result<(gst::Buffer, gst::Caps), SourceError> {
    let bad = |e: gst::glib::BoolError| SourceError::Frame(format!("a pushed image: {e}"));
    let info =
        gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, still.width, still.height)
            .fps(gst::Fraction::new(0, 1))
            .build()
            .map_err(bad)?;
    let row = still.width as usize * 3;
    let stride = info.stride()[0] as usize;
    let data = if stride == row {
        still.rgb
    } else {
        let mut padded = vec![0u8; stride * still.height as usize];
        for (to, from) in padded.chunks_exact_mut(stride).zip(still.rgb.chunks_exact(row)) {
            to[..row].copy_from_slice(from);
        }
        padded
    };
    let caps = info.to_caps().map_err(bad)?;
    Ok((gst::Buffer::from_mut_slice(data), caps))
}

/// The model frame in `sample`, its buffer mapped rather than copied (it
/// goes back to its pool once the frame is dropped).
fn frame_of(sample: &gst::Sample) -> Result<RgbFrame, SourceError> {
    let (info, buffer) = sample_parts(sample)?;
    let pts_ms = buffer.pts().map(|t| t.mseconds() as i64);
    let map = buffer
        .to_owned()
        .into_mapped_buffer_readable()
        .map_err(|_| SourceError::Frame("a frame that cannot be read".into()))?;
    Ok(RgbFrame {
        data: Pixels::Mapped(map),
        width: info.width(),
        height: info.height(),
        stride: info.stride()[0] as usize,
        pts_ms,
    })
}

fn yuv_frame_of(sample: &gst::Sample) -> Result<YuvFrame, SourceError> {
    let (info, buffer) = sample_parts(sample)?;
    let map = buffer.map_readable().map_err(|e| SourceError::Frame(e.to_string()))?;
    let plane = |i: usize| -> (usize, usize) { (info.offset()[i], info.stride()[i] as usize) };
    let ((o0, s0), (o1, s1), (o2, s2)) = (plane(0), plane(1), plane(2));
    Ok(YuvFrame {
        data: map.as_slice().to_vec(),
        width: info.width(),
        height: info.height(),
        offsets: [o0, o1, o2],
        strides: [s0, s1, s2],
        pts_ms: buffer.pts().map(|t| t.mseconds() as i64),
    })
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Some(src) = &self.push {
            let _ = src.end_of_stream();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_stream_time_starts_at_the_first_timestamp_and_never_goes_back() {
        let mut clock = PushClock::default();
        assert_eq!(clock.epoch_ms(), None);
        assert_eq!(clock.pts_ms(1_700_000_000_000), 0);
        assert_eq!(clock.epoch_ms(), Some(1_700_000_000_000));
        assert_eq!(clock.pts_ms(1_700_000_000_040), 40);
        // Backwards, or the same time again: just after the previous one.
        assert_eq!(clock.pts_ms(1_700_000_000_010), 41);
        assert_eq!(clock.pts_ms(1_700_000_000_041), 42);
        assert_eq!(clock.pts_ms(1_700_000_000_100), 100);
        assert_eq!(clock.epoch_ms(), Some(1_700_000_000_000));
    }

    #[test]
    fn pushed_times_that_start_over_begin_a_new_segment_at_their_own_pace() {
        let mut clock = PushClock::default();
        // (timestamp, pts): a frame a little late goes just after the one
        // before; a clip of 0..=1600 ms pushed again from its start (over
        // a second back) goes on just after its end, at its own pace.
        let cases = [
            (0, 0),
            (200, 200),
            (400, 400),
            (350, 401),
            (1_600, 1_600),
            (0, 1_601),
            (200, 1_801),
            (400, 2_001),
        ];
        for (ts, pts) in cases {
            assert_eq!(clock.pts_ms(ts), pts, "{ts}");
        }
        assert_eq!(clock.epoch_ms(), Some(0), "stream time 0 stays the first frame's time");
        // Times far apart stay within what GStreamer holds, in order.
        let mut far = PushClock::default();
        assert_eq!(far.pts_ms(0), 0);
        assert_eq!(far.pts_ms(253_402_300_799_999), MAX_PTS_MS);
        assert_eq!(far.pts_ms(i64::MAX), MAX_PTS_MS);
        let mut back = PushClock::default();
        assert_eq!(back.pts_ms(i64::MAX), 0);
        assert_eq!(back.pts_ms(i64::MIN), 1);
    }

    #[test]
    fn the_closest_full_frame_is_given_and_newer_ones_stay_for_their_turn() {
        // Each frame's payload is its time, to see which one came out.
        let at = |p: i64| (Some(p), p);
        let mut frames: Timed<i64> = [0, 40, 80, 120, 160].map(at).into();
        let mut get = |t| closest(&mut frames, t).copied();
        // Each model frame in turn finds its own (the outputs ask for all),
        // as often as it asks.
        assert_eq!(get(Some(40)), Some(40), "0 is dropped");
        assert_eq!(get(Some(40)), Some(40));
        // Closest when there is no exact match (ties go to the newer), and
        // that frame is still there at its own turn.
        assert_eq!(get(Some(100)), Some(120));
        assert_eq!(get(Some(120)), Some(120));
        assert_eq!(get(Some(150)), Some(160));
        // No time: the newest.
        assert_eq!(get(None), Some(160));
        let left: Vec<i64> = frames.iter().map(|f| f.1).collect();
        assert_eq!(left, [160]);
        frames.clear();
        assert_eq!(closest(&mut frames, Some(1)), None);
        assert_eq!(closest(&mut frames, None), None);
    }

    #[test]
    fn full_frames_the_worker_passed_or_skipped_are_forgotten() {
        let mut frames: Timed<i64> =
            [(Some(0), 0), (Some(40), 40), (None, -1), (Some(80), 80), (Some(120), 120)].into();
        forget_through(&mut frames, None);
        assert_eq!(frames.len(), 5, "no time: nothing is known to be old");
        forget_through(&mut frames, Some(39));
        let left: Vec<i64> = frames.iter().map(|f| f.1).collect();
        assert_eq!(
            left,
            [40, -1, 80, 120],
            "newer frames stay, for the frames still in the detector"
        );
        forget_through(&mut frames, Some(40));
        let left: Vec<i64> = frames.iter().map(|f| f.1).collect();
        assert_eq!(left, [-1, 80, 120]);
        // A skipped frame goes alone, older ones stay; without a time,
        // nothing goes.
        let mut skipping = frames.clone();
        forget_at(&mut skipping, Some(80));
        assert_eq!(skipping.iter().map(|f| f.1).collect::<Vec<_>>(), [-1, 120]);
        forget_at(&mut skipping, None);
        assert_eq!(skipping.len(), 2);
        // A frame without a time stops the forgetting: its age is unknown.
        forget_through(&mut frames, Some(1000));
        assert_eq!(frames.len(), 3);
    }

    #[test]
    fn full_frames_the_model_never_saw_go_and_the_rest_are_bounded_apart() {
        let times = |f: &Timed<i64>| f.iter().map(|x| x.1).collect::<Vec<_>>();
        let timed = |ts: &[i64]| -> Timed<i64> { ts.iter().map(|&t| (Some(t), t)).collect() };
        // (frames, the model's previous frame, its new one, what is left).
        type Between<'a> = (&'a [i64], Option<i64>, i64, &'a [i64]);
        let between: [Between; 4] = [
            (&[0, 40, 80, 120, 160], Some(0), 120, &[0, 120, 160]),
            (&[0, 40, 80, 120, 160], None, 80, &[80, 120, 160]),
            (&[0, 40, 80], Some(40), 80, &[0, 40, 80]),
            // Time went back (a new segment): nothing is between.
            (&[200, 0, 40], Some(200), 40, &[200, 0, 40]),
        ];
        for (frames, last, new, want) in between {
            let mut f = timed(frames);
            forget_between(&mut f, last, new);
            assert_eq!(times(&f), want, "{frames:?} {last:?} {new}");
        }
        let mut untimed: Timed<i64> = [(None, -1), (Some(40), 40)].into();
        forget_between(&mut untimed, None, 80);
        assert_eq!(times(&untimed), [-1], "a frame without a time stays");
        // (frames, the model's newest frame, what is left with 2 held and
        // 3 ahead).
        let bounded: [(&[i64], Option<i64>, &[i64]); 4] = [
            (&[0, 40, 80, 120, 160, 200, 240], Some(80), &[40, 80, 160, 200, 240]),
            (&[0, 40, 80], None, &[0, 40, 80]),
            (&[0, 40, 80, 120], None, &[40, 80, 120]),
            (&[0, 40, 80, 120], Some(500), &[80, 120]),
        ];
        for (frames, model, want) in bounded {
            let mut f = timed(frames);
            keep_newest(&mut f, model, 2, 3);
            assert_eq!(times(&f), want, "{frames:?} {model:?}");
        }
    }

    /// A 30 frames/s camera, a model whose sink keeps the newest frame,
    /// and a detector taking far longer than the camera's frames: each
    /// frame the model saw still finds its own full frame when its
    /// detections come, however many frames came meanwhile.
    #[test]
    fn a_busy_model_still_finds_the_full_frames_of_its_frames() {
        let mut ahead: Timed<i64> = Timed::new();
        let mut last_model = None;
        let mut in_detector = VecDeque::new();
        let mut found = Vec::new();
        for i in 0..120i64 {
            let t = i * 33;
            ahead.push_back((Some(t), t));
            keep_newest(&mut ahead, last_model, HELD_FRAMES, AHEAD_FRAMES);
            // The model takes a frame every 9th (it is that busy), two at
            // most in the detector; the oldest is done 12 frames after it.
            if i % 9 == 0 && in_detector.len() < 2 {
                forget_between(&mut ahead, last_model, t);
                last_model = Some(t);
                keep_newest(&mut ahead, last_model, HELD_FRAMES, AHEAD_FRAMES);
                in_detector.push_back(t);
            }
            if in_detector.front().is_some_and(|&a| t - a >= 12 * 33) {
                let a = in_detector.pop_front().unwrap();
                found.push((a, closest(&mut ahead, Some(a)).copied()));
                forget_through(&mut ahead, Some(a));
            }
            assert!(ahead.len() <= HELD_FRAMES + AHEAD_FRAMES, "{ahead:?}");
        }
        assert!(found.len() >= 8, "{found:?}");
        for (a, got) in found {
            assert_eq!(got, Some(a), "the full frame of {a}");
        }
    }

    #[test]
    fn frames_a_newest_wins_sink_let_go_are_counted_once() {
        // (received, pulled, counted before): counted now.
        let cases = [
            (0, 0, 0, 0),
            (1, 0, 0, 0), // held
            (1, 1, 0, 0), // taken
            (5, 1, 0, 3), // one taken, one held, three replaced
            (5, 2, 3, 3), // the held one taken: nothing new
            (9, 3, 3, 5), // five in all
            (9, 9, 5, 5), // never less than before
        ];
        for (received, pulled, before, want) in cases {
            assert_eq!(replaced(received, pulled, before), want, "{received} {pulled} {before}");
        }
    }

    #[test]
    fn the_size_in_force_is_the_last_change_at_or_before_the_frame() {
        let changes = || -> Timed<char> {
            VecDeque::from([(Some(0), 'a'), (Some(300), 'b'), (Some(500), 'c')])
        };
        // (frames asked for, in turn; what each gets; changes left).
        let cases: [(&[Option<i64>], &str, usize); 6] = [
            (&[Some(0), Some(100)], "aa", 3),
            (&[Some(299), Some(300), Some(301)], "abb", 2),
            (&[Some(200), Some(600)], "ac", 1),
            // A frame older than every change left keeps the oldest.
            (&[Some(600), Some(100)], "cc", 1),
            (&[None], "c", 1),
            (&[Some(-5)], "a", 3),
        ];
        for (asked, want, left) in cases {
            let mut c = changes();
            let got: String = asked.iter().filter_map(|&t| in_force_at(&mut c, t)).collect();
            assert_eq!((got.as_str(), c.len()), (want, left), "{asked:?}");
        }
        // A change without a time applies from where it is.
        let mut c: Timed<char> = VecDeque::from([(Some(0), 'a'), (None, 'b')]);
        assert_eq!(in_force_at(&mut c, Some(0)), Some('b'));
        assert_eq!(in_force_at(&mut Timed::<char>::new(), Some(0)), None);
    }

    #[test]
    fn a_rate_gate_passes_frames_a_frame_interval_apart() {
        // 25 frames/s, 40 ms apart: (limit, the times that pass).
        let cases: [(f64, &[i64]); 4] = [
            (0.0, &[0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400]),
            (5.0, &[0, 200, 400]),
            (10.0, &[0, 120, 240, 360]),
            (30.0, &[0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400]),
        ];
        for (limit, want) in cases {
            let mut gate = RateGate::default();
            let passed: Vec<i64> =
                (0..=10).map(|i| i * 40).filter(|&t| gate.pass(t, limit)).collect();
            assert_eq!(passed, want, "limit {limit}");
        }
        // A time that goes back (a new segment) passes and counts from
        // there; a new limit applies from the next frame.
        let mut gate = RateGate::default();
        assert!(gate.pass(10_000, 5.0));
        assert!(gate.pass(40, 5.0), "back in time");
        assert!(!gate.pass(80, 5.0));
        assert!(!gate.pass(160, 5.0));
        assert!(gate.pass(160, 10.0));
    }

    /// A uniform white image of `w` x `h`.
    fn white(width: u32, height: u32) -> PushedData {
        PushedData::Image(Still { width, height, rgb: vec![255; (width * height * 3) as usize] })
    }

    /// Checks that `frame`, from a `w` x `h` source, is letterboxed into
    /// the model's size exactly where [`Letterbox`] (which maps detections
    /// back) says: content from `pad_x`, `pad_y` for `content_w` x
    /// `content_h`, dark around it.
    fn assert_letterboxed(frame: &RgbFrame, (w, h): (u32, u32), (iw, ih): (u32, u32)) {
        use crate::detect::Letterbox;
        assert_eq!((frame.width, frame.height), (iw, ih));
        let lb = Letterbox::new(w, h, iw, ih).expect("sizes");
        // The brightest of a pixel's three channels.
        let at = |x: u32, y: u32| {
            let i = y as usize * frame.stride + x as usize * 3;
            frame.data[i..i + 3].iter().copied().max().unwrap_or(0)
        };
        let (cx, cy) = (lb.pad_x + lb.content_w / 2, lb.pad_y + lb.content_h / 2);
        let case = format!("{w}x{h} -> {lb:?}");
        let (x0, x1) = (lb.pad_x, lb.pad_x + lb.content_w - 1);
        let (y0, y1) = (lb.pad_y, lb.pad_y + lb.content_h - 1);
        for (x, y) in [(cx, y0), (cx, y1), (x0, cy), (x1, cy)] {
            assert!(at(x, y) > 160, "{case}: content at {x},{y} is {}", at(x, y));
        }
        let mut outside = Vec::new();
        if y0 > 0 {
            outside.push((cx, y0 - 1));
        }
        if y1 + 1 < ih {
            outside.push((cx, y1 + 1));
        }
        if x0 > 0 {
            outside.push((x0 - 1, cy));
        }
        if x1 + 1 < iw {
            outside.push((x1 + 1, cy));
        }
        for (x, y) in outside {
            assert!(at(x, y) < 96, "{case}: border at {x},{y} is {}", at(x, y));
        }
    }

    /// Pushed images of many sizes into one source: each model frame is
    /// letterboxed where [`Letterbox`] says for its own source size (odd
    /// paddings included), and `source_size` is that frame's size, also
    /// when frames of two sizes are in the pipeline at once.
    #[test]
    fn each_model_frame_is_letterboxed_for_its_own_source_size() {
        let model = (416u32, 416u32);
        // Source sizes: 4:3, 16:9 and 9:16 (odd paddings), portrait, wide
        // (odd padding), content a fraction of a pixel short (rounded down),
        // odd content, square (no padding).
        let sizes = [
            (640u32, 480u32),
            (1920, 1080),
            (1080, 1920),
            (480, 640),
            (700, 300),
            (640, 361),
            (640, 363),
            (1000, 1000),
        ];
        let mut src = Source::open(&SourceKind::PushedImages, model.0, model.1, true, None)
            .expect("a pushed-image source");
        let next_frame = |src: &mut Source| match src.next(Duration::from_secs(20)) {
            Next::Frame(f) => f,
            other => panic!("no frame but {other:?}"),
        };
        // One at a time.
        for (i, &(w, h)) in sizes.iter().enumerate() {
            src.push(white(w, h), Some(1_000 + 100 * i as i64)).expect("pushed");
            let frame = next_frame(&mut src);
            assert_eq!(src.source_size(), Some((w, h)), "frame {i}");
            assert_letterboxed(&frame, (w, h), model);
        }
        // Two sizes in turn, pushed before any is taken: whichever frames
        // come (the sink keeps the newest), each has its own size.
        let burst: Vec<(i64, (u32, u32))> =
            (0..6).map(|i| (10_000 + 100 * i, sizes[i as usize % 2])).collect();
        for &(ts, (w, h)) in &burst {
            src.push(white(w, h), Some(ts)).expect("pushed");
        }
        let epoch = 1_000;
        let last_pts = burst.last().map(|b| b.0 - epoch);
        loop {
            let frame = next_frame(&mut src);
            let pts = frame.pts_ms;
            let &(_, size) = burst
                .iter()
                .find(|(ts, _)| Some(ts - epoch) == pts)
                .unwrap_or_else(|| panic!("a frame at {pts:?}, which was not pushed"));
            assert_eq!(src.source_size(), Some(size), "frame at {pts:?}");
            assert_letterboxed(&frame, size, model);
            if pts == last_pts {
                break;
            }
        }
    }

    #[test]
    fn user_information_is_found_in_the_authority_only() {
        assert!(has_userinfo("rtsp://user:pw@cam/stream"));
        assert!(has_userinfo("rtsp://user@cam"));
        assert!(!has_userinfo("rtsp://cam/stream@1"));
        assert!(!has_userinfo("file:///videos/a@b.mp4"));
    }
}
