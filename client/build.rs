//! Generates the client from `openapi/openapi.yaml` with progenitor, and
//! `CONTRACT_VERSION` from the contract's `info.version`. Objects whose
//! every property is optional (and has no default) derive `Default`, so a
//! caller writes `InstanceWrite { name: Some(..), ..Default::default() }`.
//! Optional request fields, which the contract marks `nullable` (`null` is
//! the same as absent), are generated as plain optional fields: a Rust
//! caller leaves them out and never sends `null`.
//!
//! A few contract operations are truthful RT behaviour that progenitor cannot
//! generate (it wants one request media type and one success kind per
//! operation). They are rewritten here before generation, and each is listed
//! in the crate docs (`src/lib.rs`) with how to call it instead.

use std::path::Path;

use heck::ToPascalCase;
use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, Type};

/// Operations left out of generation: (operationId, why).
const LEFT_OUT: &[(&str, &str)] = &[
    ("push_compressed_frame", "multipart/form-data request body"),
    ("push_encoded_frame", "multipart/form-data request body"),
    ("set_output_hls", "200 with a body when enabling, 204 when disabling"),
];

fn main() {
    // Read when the script runs, not baked in when it was compiled: a build
    // directory shared by two checkouts (CI's and a local one) must not
    // generate the client from the other one's contract.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let spec_path = format!("{dir}/../openapi/openapi.yaml");
    println!("cargo:rerun-if-changed={spec_path}");
    let text = std::fs::read_to_string(spec_path).expect("read openapi/openapi.yaml");
    let mut spec: OpenAPI = serde_norway::from_str(&text)
        .expect("openapi/openapi.yaml is a valid OpenAPI 3.0 document");

    for (_, item) in spec.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for slot in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.options,
            &mut item.head,
            &mut item.trace,
        ] {
            let id = slot.as_ref().and_then(|op| op.operation_id.clone());
            if id.is_some_and(|id| LEFT_OUT.iter().any(|(left, _)| *left == id)) {
                *slot = None;
            }
        }
    }

    optional_fields_not_nullable(&mut spec);
    fixed_arrays_without_unique_items(&mut spec);

    let mut settings = progenitor::GenerationSettings::default();
    let mut derive_default = progenitor::TypePatch::default();
    derive_default.with_derive("Default");
    for name in all_optional(&spec) {
        // typify names types in Pascal case (`SecuRTInstanceWrite` -> `SecuRtInstanceWrite`).
        settings.with_patch(name.to_pascal_case(), &derive_default);
    }
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator.generate_tokens(&spec).expect("progenitor accepts the contract");
    let file: syn::File = syn::parse2(tokens).expect("generated code parses");
    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    let out = Path::new(&out_dir);
    std::fs::write(out.join("codegen.rs"), prettyplease::unparse(&file))
        .expect("write generated client");
    let version = format!(
        "/// The version of the contract (`openapi/openapi.yaml`, `info.version`) this\n\
         /// client was generated from: it changes when the API does.\n\
         pub const CONTRACT_VERSION: &str = {:?};\n",
        spec.info.version
    );
    std::fs::write(out.join("contract_version.rs"), version).expect("write the contract version");
}

/// The contract marks the optional fields of request bodies `nullable`: a
/// `null` there is the same as the field left out. A Rust caller leaves a
/// field out with `None` and never needs to send `null`, so the client is
/// generated as if they were not nullable: typify would otherwise turn each
/// defaulted or list field into an `Option` (`limit: Option<NonZeroU32>`
/// instead of `limit: NonZeroU32` with its default). Required fields and
/// response schemas are left as they are.
fn optional_fields_not_nullable(spec: &mut OpenAPI) {
    let Some(components) = &mut spec.components else {
        return;
    };
    for schema in components.schemas.values_mut() {
        let ReferenceOr::Item(Schema { schema_kind: SchemaKind::Type(Type::Object(o)), .. }) =
            schema
        else {
            continue;
        };
        for (name, property) in o.properties.iter_mut() {
            if let ReferenceOr::Item(p) = property
                && !o.required.contains(name)
            {
                p.schema_data.nullable = false;
            }
        }
    }
}

/// typify makes an array of a fixed length a Rust array (`[Coordinate; 2]`
/// for a line), but only when it has no `uniqueItems`: with it, it falls
/// back to a `Vec`. The contract says a line's two points must differ
/// (`uniqueItems`), which the server checks; the client keeps the array.
fn fixed_arrays_without_unique_items(spec: &mut OpenAPI) {
    let Some(components) = &mut spec.components else {
        return;
    };
    for schema in components.schemas.values_mut() {
        if let ReferenceOr::Item(Schema { schema_kind: SchemaKind::Type(Type::Array(a)), .. }) =
            schema
            && a.min_items.is_some()
            && a.min_items == a.max_items
        {
            a.unique_items = false;
        }
    }
}

/// Component schemas that are objects with properties, none of them
/// required and none with a default (typify writes `Default` itself then).
fn all_optional(spec: &OpenAPI) -> Vec<String> {
    let Some(components) = &spec.components else {
        return Vec::new();
    };
    let has_default = |p: &ReferenceOr<Box<Schema>>| match p {
        ReferenceOr::Item(s) => s.schema_data.default.is_some(),
        ReferenceOr::Reference { .. } => false,
    };
    components
        .schemas
        .iter()
        .filter(|(_, schema)| match schema {
            ReferenceOr::Item(Schema {
                schema_kind: SchemaKind::Type(Type::Object(o)), ..
            }) => {
                o.required.is_empty()
                    && !o.properties.is_empty()
                    && !o.properties.values().any(has_default)
            }
            _ => false,
        })
        .map(|(name, _)| name.clone())
        .collect()
}
