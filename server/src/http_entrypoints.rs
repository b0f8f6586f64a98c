//! The HTTP handlers: [`RtApi`] implemented over the engine.
//!
//! Each handler extracts, calls one engine (or config) function, and wraps
//! the result; status codes for failures come from `crate::error` only.

use std::sync::Arc;

use base64::Engine as _;
use dropshot::{
    ApiDescription, Body, Header, HttpError, HttpResponseCreated, HttpResponseDeleted,
    HttpResponseOk, HttpResponseUpdatedNoContent, MultipartBody, Path, Query, RequestContext,
    UntypedBody,
};
use rt_api::core::*;
use rt_api::database::*;
use rt_api::onvif::*;
use rt_api::registry::*;
use rt_api::securt::*;
use rt_api::{JsonBody, RtApi, rt_api_mod};
use rt_pipeline::runtime::PushedKind;
use rt_pipeline::{ENGINE_VERSION, solutions};

use crate::context::ServerContext;
use crate::convert;
use crate::error::Error;
use crate::{
    auth, database, hls, live, metrics, onvif, panel, push, registry, securt, sse, system_config,
};

/// The contract, served verbatim at `GET /openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../openapi/openapi.yaml");

type Ctx = RequestContext<Arc<ServerContext>>;
type Done = Result<HttpResponseUpdatedNoContent, HttpError>;

/// The server's API description.
pub fn api() -> ApiDescription<Arc<ServerContext>> {
    rt_api_mod::api_description::<RtApiImpl>().expect("the RT API description is valid")
}

/// Implements [`RtApi`]; never constructed.
pub enum RtApiImpl {}

fn done<E: Into<Error>>(r: Result<(), E>) -> Done {
    r.map(|()| HttpResponseUpdatedNoContent()).map_err(|e| e.into().into())
}

/// The bearer token check of every operation but the health probe and the
/// panel's shell (see `auth.rs`).
fn authorize(rqctx: &Ctx) -> Result<(), HttpError> {
    Ok(rqctx.context().auth.check(rqctx.request.method(), rqctx.request.headers())?)
}

/// A 204, setting `cookie` when there is one.
fn no_content_with_cookie(cookie: Option<String>) -> Result<http::Response<Body>, HttpError> {
    let mut r = http::Response::builder().status(http::StatusCode::NO_CONTENT);
    if let Some(c) = cookie {
        r = r.header(http::header::SET_COOKIE, c);
    }
    r.body(Body::empty()).map_err(|e| HttpError::for_internal_error(e.to_string()))
}

fn engine_err(e: rt_pipeline::Error) -> HttpError {
    Error::from(e).into()
}

/// `count` of `GET /v1/core/log`: RT's client types it as a double and
/// sends `50.000000000000000`, so any whole, non-negative value is taken.
fn whole_count(count: f64) -> Result<usize, rt_pipeline::Error> {
    if !(count.is_finite() && count >= 0.0 && count.fract() == 0.0) {
        return Err(rt_pipeline::Error::invalid(
            "count",
            format!("must be a non-negative whole number, not {count}"),
        ));
    }
    // Beyond usize it means "everything retained" anyway.
    Ok(if count >= usize::MAX as f64 { usize::MAX } else { count as usize })
}

impl RtApi for RtApiImpl {
    type Context = Arc<ServerContext>;

    async fn get_version(rqctx: Ctx) -> Result<HttpResponseOk<Version>, HttpError> {
        Ok(HttpResponseOk(Version {
            engine: rqctx.context().engine_version.clone(),
            server_version: Some(ENGINE_VERSION.to_string()),
        }))
    }

    async fn list_instances(rqctx: Ctx) -> Result<HttpResponseOk<InstanceList>, HttpError> {
        authorize(&rqctx)?;
        let ctx = rqctx.context();
        let instances = ctx
            .engine
            .list()
            .into_iter()
            .map(|s| convert::instance_read(s, &ctx.engine_version))
            .collect();
        Ok(HttpResponseOk(InstanceList { instances }))
    }

    async fn create_instance(
        rqctx: Ctx,
        body: JsonBody<InstanceWrite>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError> {
        authorize(&rqctx)?;
        let patch = convert::settings_patch(body.into_inner()?);
        let instance_id = rqctx.context().engine.create(None, &patch).map_err(engine_err)?;
        Ok(HttpResponseCreated(InstanceCreated { instance_id }))
    }

    async fn create_instance_with_id(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<InstanceWrite>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError> {
        authorize(&rqctx)?;
        let id = path.into_inner().instance_id;
        let patch = convert::settings_patch(body.into_inner()?);
        let instance_id = rqctx.context().engine.create(Some(id), &patch).map_err(engine_err)?;
        Ok(HttpResponseCreated(InstanceCreated { instance_id }))
    }

    async fn get_instance(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<InstanceRead>, HttpError> {
        authorize(&rqctx)?;
        let snap = rqctx.context().engine.get(path.into_inner().instance_id).map_err(engine_err)?;
        Ok(HttpResponseOk(convert::instance_read(snap, &rqctx.context().engine_version)))
    }

    async fn update_instance(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<InstanceWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let patch = convert::settings_patch(body.into_inner()?);
        done(rqctx.context().engine.update(path.into_inner().instance_id, &patch))
    }

    async fn delete_instance(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        rqctx.context().engine.delete(path.into_inner().instance_id).map_err(engine_err)?;
        Ok(HttpResponseDeleted())
    }

    async fn load_instance(rqctx: Ctx, path: Path<InstancePath>) -> Done {
        authorize(&rqctx)?;
        done(rqctx.context().engine.load(path.into_inner().instance_id))
    }

    async fn unload_instance(rqctx: Ctx, path: Path<InstancePath>) -> Done {
        authorize(&rqctx)?;
        done(rqctx.context().engine.unload(path.into_inner().instance_id))
    }

    async fn start_instance(rqctx: Ctx, path: Path<InstancePath>) -> Done {
        authorize(&rqctx)?;
        done(rqctx.context().engine.start(path.into_inner().instance_id))
    }

    async fn stop_instance(rqctx: Ctx, path: Path<InstancePath>) -> Done {
        authorize(&rqctx)?;
        done(rqctx.context().engine.stop(path.into_inner().instance_id))
    }

    async fn restart_instance(rqctx: Ctx, path: Path<InstancePath>) -> Done {
        authorize(&rqctx)?;
        done(rqctx.context().engine.restart(path.into_inner().instance_id))
    }

    async fn get_instance_config(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<ConfigTree>, HttpError> {
        authorize(&rqctx)?;
        let tree =
            rqctx.context().engine.config(path.into_inner().instance_id).map_err(engine_err)?;
        Ok(HttpResponseOk(tree))
    }

    async fn set_instance_config(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<ConfigValueWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let w = body.into_inner()?;
        done(rqctx.context().engine.set_config(
            path.into_inner().instance_id,
            &w.path,
            &w.json_value,
        ))
    }

    async fn get_instance_state(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<ConfigTree>, HttpError> {
        authorize(&rqctx)?;
        let tree =
            rqctx.context().engine.state(path.into_inner().instance_id).map_err(engine_err)?;
        Ok(HttpResponseOk(tree))
    }

    async fn set_instance_state(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<ConfigValueWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let w = body.into_inner()?;
        done(rqctx.context().engine.set_state(
            path.into_inner().instance_id,
            &w.path,
            &w.json_value,
        ))
    }

    async fn set_instance_input(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<InputWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let input = convert::input_source(body.into_inner()?);
        done(rqctx.context().engine.set_input(path.into_inner().instance_id, &input))
    }

    async fn get_instance_error(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<LastError>, HttpError> {
        authorize(&rqctx)?;
        let e = rqctx
            .context()
            .engine
            .instance_error(path.into_inner().instance_id)
            .map_err(engine_err)?;
        Ok(HttpResponseOk(convert::last_error(e)))
    }

    async fn consume_events_sse(
        rqctx: Ctx,
        path: Path<InstancePath>,
        headers: Header<SseHeaders>,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let ctx = rqctx.context();
        let id = path.into_inner().instance_id;
        let bus = ctx.engine.bus(id).map_err(engine_err)?;
        // A Last-Event-ID that is not one of our ids resumes nothing.
        let after = headers.into_inner().last_event_id.and_then(|v| v.trim().parse().ok());
        let permit = ctx.streams.acquire(Some(id))?;
        let durable = Some(ctx.writer.durable(id));
        Ok(sse::response(
            &bus,
            (after, permit),
            ctx.keep_alive,
            ctx.shutdown.subscribe(),
            Some((ctx.db.clone(), id)),
            durable,
        ))
    }

    async fn get_instance_mjpeg(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let ctx = rqctx.context();
        let id = path.into_inner().instance_id;
        let frames = ctx.engine.stats(id).map_err(engine_err)?.live.watch();
        let permit = ctx.streams.acquire(Some(id))?;
        Ok(live::response(frames, permit, ctx.shutdown.subscribe()))
    }

    async fn consume_events(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<Vec<ConsumedEvent>>, HttpError> {
        authorize(&rqctx)?;
        let bus = rqctx.context().engine.bus(path.into_inner().instance_id).map_err(engine_err)?;
        let events = bus
            .drain()
            .iter()
            .map(|e| ConsumedEvent { data_type: e.kind.clone(), json_object: e.data.clone() })
            .collect();
        Ok(HttpResponseOk(events))
    }

    async fn get_frame(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<Frame>, HttpError> {
        authorize(&rqctx)?;
        let engine = &rqctx.context().engine;
        let id = path.into_inner().instance_id;
        let running = || -> Result<bool, HttpError> {
            Ok(engine.get(id).map_err(engine_err)?.state == rt_pipeline::LifecycleState::Running)
        };
        let stats = engine.stats(id).map_err(engine_err)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let last = stats.preview.request(now_ms, running()?).await;
        // As it is after the wait.
        let running = running()?;
        let frame = last
            .map(|f| base64::engine::general_purpose::STANDARD.encode(f.jpeg.as_slice()))
            .unwrap_or_default();
        Ok(HttpResponseOk(Frame { frame, running }))
    }

    async fn set_tentative_tracks(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<EnabledWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let enabled = body.into_inner()?.enabled;
        done(rqctx.context().engine.set_config(
            path.into_inner().instance_id,
            "Output/tentative_tracks",
            &enabled.to_string(),
        ))
    }

    async fn set_output_rtsp(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<OutputRtspWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let b = body.into_inner()?;
        let id = path.into_inner().instance_id;
        done(rqctx.context().engine.set_output_rtsp(id, b.enabled, b.uri.as_deref()))
    }

    async fn set_output_hls(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<OutputHlsWrite>,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let host = rqctx.request.headers().get(http::header::HOST).and_then(|h| h.to_str().ok());
        let id = path.into_inner().instance_id;
        let uri = hls::set_output(rqctx.context(), id, body.into_inner()?.enabled, host)?;
        let response = match uri {
            Some(uri) => {
                let body = serde_json::to_vec(&OutputHlsEnabled { uri })
                    .map_err(|e| Error::Internal(e.to_string()))?;
                http::Response::builder()
                    .status(http::StatusCode::OK)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
            }
            None => {
                http::Response::builder().status(http::StatusCode::NO_CONTENT).body(Body::empty())
            }
        };
        response.map_err(|e| HttpError::for_internal_error(e.to_string()))
    }

    async fn set_render_preset(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<RenderPresetWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let preset = body.into_inner()?.preset_name;
        done(rqctx.context().engine.set_render_preset(path.into_inner().instance_id, &preset))
    }

    async fn push_compressed_frame(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: MultipartBody,
    ) -> Done {
        authorize(&rqctx)?;
        let id = path.into_inner().instance_id;
        done(push::push(rqctx.context(), id, PushedKind::Image, body).await)
    }

    async fn push_encoded_frame(
        rqctx: Ctx,
        path: Path<EncodedPushPath>,
        body: MultipartBody,
    ) -> Done {
        authorize(&rqctx)?;
        let p = path.into_inner();
        let kind = match p.codec_id {
            CodecId::H264 => PushedKind::H264,
            CodecId::H265 => PushedKind::H265,
        };
        done(push::push(rqctx.context(), p.instance_id, kind, body).await)
    }

    async fn list_solutions(rqctx: Ctx) -> Result<HttpResponseOk<SolutionList>, HttpError> {
        authorize(&rqctx)?;
        let solutions = solutions::SOLUTIONS
            .iter()
            .map(|s| Solution {
                id: s.id.into(),
                name: s.name.into(),
                version: ENGINE_VERSION.into(),
            })
            .collect();
        Ok(HttpResponseOk(SolutionList { solutions }))
    }

    async fn get_licenses(rqctx: Ctx) -> Result<HttpResponseOk<LicenseList>, HttpError> {
        authorize(&rqctx)?;
        // This server is open source and needs no license: the list is
        // truthfully empty.
        Ok(HttpResponseOk(LicenseList { licenses: Vec::new() }))
    }

    async fn get_log(
        rqctx: Ctx,
        query: Query<LogQuery>,
    ) -> Result<HttpResponseOk<LogTail>, HttpError> {
        authorize(&rqctx)?;
        let count = whole_count(query.into_inner().count.unwrap_or(0.0)).map_err(engine_err)?;
        Ok(HttpResponseOk(LogTail { log: rqctx.context().log.tail(count) }))
    }

    async fn get_system_info(rqctx: Ctx) -> Result<HttpResponseOk<SystemInfo>, HttpError> {
        authorize(&rqctx)?;
        let uptime = rqctx.context().started.elapsed().as_secs();
        let ctx = rqctx.context();
        let system_info = crate::system_info::collect(uptime)
            .into_iter()
            .chain(database::info(ctx))
            .map(|(display_name, value)| SystemInfoEntry { display_name, value })
            .collect();
        Ok(HttpResponseOk(SystemInfo { system_info }))
    }

    async fn get_system_config(rqctx: Ctx) -> Result<HttpResponseOk<SystemConfig>, HttpError> {
        authorize(&rqctx)?;
        let system_config = system_config::entities(&rqctx.context().config().config);
        Ok(HttpResponseOk(SystemConfig { system_config }))
    }

    async fn update_system_config(rqctx: Ctx, body: JsonBody<SystemConfigUpdate>) -> Done {
        authorize(&rqctx)?;
        done(system_config::update(rqctx.context(), &body.into_inner()?.system_config))
    }

    async fn shutdown_system(rqctx: Ctx) -> Done {
        authorize(&rqctx)?;
        tracing::info!("shutdown requested over the API");
        rqctx.context().shutdown.send_replace(true);
        Ok(HttpResponseUpdatedNoContent())
    }

    async fn get_last_error(rqctx: Ctx) -> Result<HttpResponseOk<LastError>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(convert::last_error(rqctx.context().engine.last_error())))
    }

    async fn get_openapi(rqctx: Ctx) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        http::Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(OPENAPI_YAML))
            .map_err(|e| HttpError::for_internal_error(e.to_string()))
    }

    async fn create_session(rqctx: Ctx) -> Result<http::Response<Body>, HttpError> {
        let ctx = rqctx.context();
        let id = ctx.auth.open_session(rqctx.request.headers())?;
        let secure = ctx.config().config.web_server.tls.is_some();
        let cookie = id.map(|id| auth::session_cookie(&id, secure));
        no_content_with_cookie(cookie)
    }

    async fn delete_session(rqctx: Ctx) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let ctx = rqctx.context();
        ctx.auth.close_session(rqctx.request.headers());
        let secure = ctx.config().config.web_server.tls.is_some();
        no_content_with_cookie(ctx.auth.required().then(|| auth::expired_cookie(secure)))
    }

    async fn get_metrics(rqctx: Ctx) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        http::Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)
            .header(http::header::CACHE_CONTROL, "no-cache")
            .body(Body::from(metrics::render(rqctx.context())))
            .map_err(|e| HttpError::for_internal_error(e.to_string()))
    }

    async fn get_panel(rqctx: Ctx) -> Result<http::Response<Body>, HttpError> {
        panel::file("index.html", rqctx.request.headers())
    }

    async fn get_docs(rqctx: Ctx) -> Result<http::Response<Body>, HttpError> {
        panel::file("docs.html", rqctx.request.headers())
    }

    async fn get_panel_file(
        rqctx: Ctx,
        path: Path<PanelFilePath>,
    ) -> Result<http::Response<Body>, HttpError> {
        panel::file(&path.into_inner().path.join("/"), rqctx.request.headers())
    }

    async fn get_hls_file(
        rqctx: Ctx,
        path: Path<HlsFilePath>,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let (bytes, kind) = hls::file(&rqctx.context().hls_dir, &path.into_inner().file).await?;
        http::Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, kind)
            .header(http::header::CACHE_CONTROL, "no-cache")
            .body(Body::from(bytes))
            .map_err(|e| HttpError::for_internal_error(e.to_string()))
    }

    async fn securt_create_instance(
        rqctx: Ctx,
        body: JsonBody<SecuRTInstanceCreate>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseCreated(securt::create_instance(rqctx.context(), None, body.into_inner()?)?))
    }

    async fn securt_create_instance_with_id(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<SecuRTInstanceCreate>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError> {
        authorize(&rqctx)?;
        let id = Some(path.into_inner().instance_id);
        Ok(HttpResponseCreated(securt::create_instance(rqctx.context(), id, body.into_inner()?)?))
    }

    async fn securt_get_instance(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<SecuRTInstanceRead>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(securt::get_instance(rqctx.context(), path.into_inner().instance_id)?))
    }

    async fn securt_update_instance(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<SecuRTInstanceWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let id = path.into_inner().instance_id;
        done(securt::update_instance(rqctx.context(), id, body.into_inner()?))
    }

    async fn securt_delete_instance(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        securt::delete_instance(rqctx.context(), path.into_inner().instance_id)?;
        Ok(HttpResponseDeleted())
    }

    async fn securt_get_stats(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<SecuRTStats>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(securt::stats(rqctx.context(), path.into_inner().instance_id)?))
    }

    async fn securt_get_analytics_entities(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<AnalyticsEntities>, HttpError> {
        authorize(&rqctx)?;
        let cfg = rqctx
            .context()
            .engine
            .securt_config(path.into_inner().instance_id)
            .map_err(engine_err)?;
        Ok(HttpResponseOk(AnalyticsEntities {
            areas: securt::areas(&cfg)?,
            lines: securt::lines(&cfg)?,
        }))
    }

    async fn securt_set_motion_area(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<MotionAreaWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let id = path.into_inner().instance_id;
        done(securt::set_motion_area(rqctx.context(), id, body.into_inner()?))
    }

    async fn securt_set_exclusion_areas(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<ExclusionAreasWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let id = path.into_inner().instance_id;
        done(securt::set_exclusion_areas(rqctx.context(), id, body.into_inner()?))
    }

    async fn securt_set_appearance_search(
        rqctx: Ctx,
        path: Path<InstancePath>,
        body: JsonBody<AppearanceSearchWrite>,
    ) -> Done {
        authorize(&rqctx)?;
        let id = path.into_inner().instance_id;
        done(securt::set_appearance_search(rqctx.context(), id, body.into_inner()?))
    }

    async fn securt_list_areas(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<AreaList>, HttpError> {
        authorize(&rqctx)?;
        let cfg = rqctx
            .context()
            .engine
            .securt_config(path.into_inner().instance_id)
            .map_err(engine_err)?;
        Ok(HttpResponseOk(securt::areas(&cfg)?))
    }

    async fn securt_delete_areas(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        rqctx.context().engine.delete_areas(path.into_inner().instance_id).map_err(engine_err)?;
        Ok(HttpResponseDeleted())
    }

    async fn securt_list_lines(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<LineList>, HttpError> {
        authorize(&rqctx)?;
        let cfg = rqctx
            .context()
            .engine
            .securt_config(path.into_inner().instance_id)
            .map_err(engine_err)?;
        Ok(HttpResponseOk(securt::lines(&cfg)?))
    }

    async fn securt_delete_lines(
        rqctx: Ctx,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        rqctx.context().engine.delete_lines(path.into_inner().instance_id).map_err(engine_err)?;
        Ok(HttpResponseDeleted())
    }

    async fn securt_create_area(
        rqctx: Ctx,
        path: Path<AreaRefPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<AreaCreated>, HttpError> {
        authorize(&rqctx)?;
        let p = path.into_inner();
        let kind = securt::area_kind(&p.area_ref, false)?;
        let created =
            securt::create_area(rqctx.context(), p.instance_id, kind, None, body.into_inner()?)?;
        Ok(HttpResponseCreated(created))
    }

    async fn securt_create_area_with_id(
        rqctx: Ctx,
        path: Path<AreaRefIdPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<AreaCreated>, HttpError> {
        authorize(&rqctx)?;
        let p = path.into_inner();
        let kind = securt::area_kind(&p.area_ref, true)?;
        let created = securt::create_area(
            rqctx.context(),
            p.instance_id,
            kind,
            Some(p.area_id),
            body.into_inner()?,
        )?;
        Ok(HttpResponseCreated(created))
    }

    async fn securt_delete_area(
        rqctx: Ctx,
        path: Path<AreaRefPath>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        let p = path.into_inner();
        securt::delete_area(rqctx.context(), p.instance_id, &p.area_ref)?;
        Ok(HttpResponseDeleted())
    }

    async fn securt_create_line(
        rqctx: Ctx,
        path: Path<LineRefPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<LineCreated>, HttpError> {
        authorize(&rqctx)?;
        let p = path.into_inner();
        let kind = securt::line_kind(&p.line_ref, false)?;
        let created =
            securt::create_line(rqctx.context(), p.instance_id, kind, None, body.into_inner()?)?;
        Ok(HttpResponseCreated(created))
    }

    async fn securt_create_line_with_id(
        rqctx: Ctx,
        path: Path<LineRefIdPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<LineCreated>, HttpError> {
        authorize(&rqctx)?;
        let p = path.into_inner();
        let kind = securt::line_kind(&p.line_ref, true)?;
        let created = securt::create_line(
            rqctx.context(),
            p.instance_id,
            kind,
            Some(p.line_id),
            body.into_inner()?,
        )?;
        Ok(HttpResponseCreated(created))
    }

    async fn securt_delete_line(
        rqctx: Ctx,
        path: Path<LineRefPath>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        let p = path.into_inner();
        securt::delete_line(rqctx.context(), p.instance_id, &p.line_ref)?;
        Ok(HttpResponseDeleted())
    }

    async fn onvif_discover(rqctx: Ctx, query: Query<DiscoverQuery>) -> Done {
        authorize(&rqctx)?;
        done(onvif::discover(rqctx.context(), query.into_inner()).await)
    }

    async fn onvif_list_cameras(rqctx: Ctx) -> Result<HttpResponseOk<Vec<OnvifCamera>>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(onvif::cameras(rqctx.context())))
    }

    async fn onvif_get_streams(
        rqctx: Ctx,
        path: Path<CameraPath>,
    ) -> Result<HttpResponseOk<Vec<OnvifStream>>, HttpError> {
        authorize(&rqctx)?;
        let id = path.into_inner().camera_id;
        Ok(HttpResponseOk(onvif::streams(rqctx.context(), &id).await?))
    }

    async fn onvif_set_credentials(
        rqctx: Ctx,
        path: Path<CameraPath>,
        body: JsonBody<OnvifCredentials>,
    ) -> Done {
        authorize(&rqctx)?;
        let id = path.into_inner().camera_id;
        done(onvif::set_credentials(rqctx.context(), &id, body.into_inner()?).await)
    }

    async fn registry_list(
        rqctx: Ctx,
        query: Query<RegistryPrefix>,
    ) -> Result<HttpResponseOk<RegistryKeyList>, HttpError> {
        authorize(&rqctx)?;
        let prefix = query.into_inner().prefix.unwrap_or_default();
        let keys = rqctx.context().db.registry_list(&prefix).await.map_err(engine_err)?;
        Ok(HttpResponseOk(RegistryKeyList { keys }))
    }

    async fn registry_get(
        rqctx: Ctx,
        path: Path<RegistryKeyPath>,
        query: Query<RegistryPrefix>,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let key = path.into_inner().key();
        let db = &rqctx.context().db;
        if key.is_empty() {
            return Ok(registry::list(db, &query.into_inner().prefix.unwrap_or_default()).await?);
        }
        Ok(registry::get(db, &key).await?)
    }

    async fn registry_put(
        rqctx: Ctx,
        path: Path<RegistryKeyPath>,
        query: Query<RegistryPutQuery>,
        headers: Header<IfMatchHeader>,
        body: UntypedBody,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let key = path.into_inner().key();
        registry::key_given(&key, "PUT")?;
        let if_match = headers.into_inner().if_match;
        let ttl = query.into_inner().ttl;
        let db = &rqctx.context().db;
        Ok(registry::put(db, &key, ttl, if_match.as_deref(), body.as_bytes()).await?)
    }

    async fn registry_delete(
        rqctx: Ctx,
        path: Path<RegistryKeyPath>,
        headers: Header<IfMatchHeader>,
    ) -> Result<HttpResponseDeleted, HttpError> {
        authorize(&rqctx)?;
        let key = path.into_inner().key();
        registry::key_given(&key, "DELETE")?;
        let if_match = headers.into_inner().if_match;
        rqctx.context().db.registry_delete(&key, if_match.as_deref()).await.map_err(engine_err)?;
        Ok(HttpResponseDeleted())
    }

    async fn registry_watch(
        rqctx: Ctx,
        query: Query<RegistryPrefix>,
        headers: Header<SseHeaders>,
    ) -> Result<http::Response<Body>, HttpError> {
        authorize(&rqctx)?;
        let ctx = rqctx.context();
        let prefix = query.into_inner().prefix.unwrap_or_default();
        // A Last-Event-ID that is not one of our ids resumes nothing.
        let after = headers.into_inner().last_event_id.and_then(|v| v.trim().parse().ok());
        let permit = ctx.streams.acquire(None)?;
        let shutdown = ctx.shutdown.subscribe();
        Ok(registry::watch(&ctx.db, prefix, (after, permit), ctx.keep_alive, shutdown).await?)
    }

    async fn database_query_events(
        rqctx: Ctx,
        body: JsonBody<EventsQuery>,
    ) -> Result<HttpResponseOk<EventsResult>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(database::events(&rqctx.context().db, body.into_inner()?).await?))
    }

    async fn database_query_tracks(
        rqctx: Ctx,
        body: JsonBody<TracksQuery>,
    ) -> Result<HttpResponseOk<TracksResult>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(database::tracks(&rqctx.context().db, body.into_inner()?).await?))
    }

    async fn database_query_analytics(
        rqctx: Ctx,
        body: JsonBody<AnalyticsQuery>,
    ) -> Result<HttpResponseOk<AnalyticsResult>, HttpError> {
        authorize(&rqctx)?;
        Ok(HttpResponseOk(database::analytics(&rqctx.context().db, body.into_inner()?).await?))
    }
}
