-- Core schema: governance basics, catalogue, SensorThings 1.1 model, ingest runs and quarantine,
-- biodiversity (Darwin Core, Camtrap DP) and areas.
-- Text people read is a JSON object keyed by language: {"en": "...", "zh": "...", "ru": "..."}.

CREATE SEQUENCE organisations_id_seq;
CREATE TABLE organisations (
    id          BIGINT PRIMARY KEY DEFAULT nextval('organisations_id_seq'),
    slug        VARCHAR NOT NULL UNIQUE,
    name        JSON NOT NULL,
    country     VARCHAR NOT NULL CHECK (length(country) = 3),   -- ISO 3166-1 alpha-3
    kind        VARCHAR,                                         -- ministry, hydromet, park, ...
    is_demo     BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE SEQUENCE datasets_id_seq;
CREATE TABLE datasets (
    id              BIGINT PRIMARY KEY DEFAULT nextval('datasets_id_seq'),
    slug            VARCHAR NOT NULL UNIQUE,
    owner_org_id    BIGINT NOT NULL REFERENCES organisations (id),
    domain          VARCHAR NOT NULL,      -- air, glacier, wildlife, energy, boundaries, ...
    title           JSON NOT NULL,
    description     JSON,
    licence         VARCHAR NOT NULL,      -- SPDX identifier
    attribution     VARCHAR,
    visibility      VARCHAR NOT NULL DEFAULT 'public'
                    CHECK (visibility IN ('public', 'registered', 'partners', 'private')),
    embargo_until   TIMESTAMPTZ,
    sensitive       BOOLEAN NOT NULL DEFAULT false,
    generalise_km   DOUBLE NOT NULL DEFAULT 10,
    keywords        VARCHAR[],
    is_demo         BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- SensorThings 1.1 ---------------------------------------------------------------------------
CREATE SEQUENCE things_id_seq;
CREATE TABLE things (
    id          BIGINT PRIMARY KEY DEFAULT nextval('things_id_seq'),
    dataset_id  BIGINT NOT NULL REFERENCES datasets (id),
    code        VARCHAR NOT NULL,          -- the station identifier used in source files
    name        VARCHAR NOT NULL,
    description VARCHAR NOT NULL DEFAULT '',
    properties  JSON,
    UNIQUE (dataset_id, code)
);

CREATE SEQUENCE locations_id_seq;
CREATE TABLE locations (
    id              BIGINT PRIMARY KEY DEFAULT nextval('locations_id_seq'),
    name            VARCHAR NOT NULL,
    description     VARCHAR NOT NULL DEFAULT '',
    encoding_type   VARCHAR NOT NULL DEFAULT 'application/geo+json',
    geom            GEOMETRY NOT NULL,     -- WGS 84 lon/lat
    properties      JSON
);

CREATE TABLE thing_locations (
    thing_id    BIGINT NOT NULL REFERENCES things (id),
    location_id BIGINT NOT NULL REFERENCES locations (id),
    PRIMARY KEY (thing_id, location_id)
);

CREATE SEQUENCE historical_locations_id_seq;
CREATE TABLE historical_locations (
    id          BIGINT PRIMARY KEY DEFAULT nextval('historical_locations_id_seq'),
    thing_id    BIGINT NOT NULL REFERENCES things (id),
    time        TIMESTAMPTZ NOT NULL
);

CREATE TABLE historical_location_locations (
    historical_location_id BIGINT NOT NULL REFERENCES historical_locations (id),
    location_id            BIGINT NOT NULL REFERENCES locations (id),
    PRIMARY KEY (historical_location_id, location_id)
);

CREATE SEQUENCE sensors_id_seq;
CREATE TABLE sensors (
    id              BIGINT PRIMARY KEY DEFAULT nextval('sensors_id_seq'),
    name            VARCHAR NOT NULL,
    description     VARCHAR NOT NULL DEFAULT '',
    encoding_type   VARCHAR NOT NULL DEFAULT 'text/plain',
    metadata        VARCHAR NOT NULL DEFAULT '',
    properties      JSON
);

-- One canonical unit (UCUM) per observed property; qc holds the QARTOD test configuration.
CREATE SEQUENCE observed_properties_id_seq;
CREATE TABLE observed_properties (
    id              BIGINT PRIMARY KEY DEFAULT nextval('observed_properties_id_seq'),
    code            VARCHAR NOT NULL UNIQUE,   -- pm25, no2, mass_balance, ...
    name            VARCHAR NOT NULL,
    definition      VARCHAR NOT NULL DEFAULT '',
    description     VARCHAR NOT NULL DEFAULT '',
    canonical_unit  VARCHAR NOT NULL,          -- UCUM code
    unit_symbol     VARCHAR NOT NULL,
    unit_name       VARCHAR NOT NULL,
    qc              JSON,
    properties      JSON
);

CREATE SEQUENCE features_of_interest_id_seq;
CREATE TABLE features_of_interest (
    id              BIGINT PRIMARY KEY DEFAULT nextval('features_of_interest_id_seq'),
    name            VARCHAR NOT NULL,
    description     VARCHAR NOT NULL DEFAULT '',
    encoding_type   VARCHAR NOT NULL DEFAULT 'application/geo+json',
    geom            GEOMETRY NOT NULL,
    properties      JSON
);

-- The latest value lives here so nobody scans observations to find it.
CREATE SEQUENCE datastreams_id_seq;
CREATE TABLE datastreams (
    id                      BIGINT PRIMARY KEY DEFAULT nextval('datastreams_id_seq'),
    thing_id                BIGINT NOT NULL REFERENCES things (id),
    sensor_id               BIGINT NOT NULL REFERENCES sensors (id),
    observed_property_id    BIGINT NOT NULL REFERENCES observed_properties (id),
    name                    VARCHAR NOT NULL,
    description             VARCHAR NOT NULL DEFAULT '',
    observation_type        VARCHAR NOT NULL DEFAULT
        'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement',
    unit_code               VARCHAR NOT NULL,  -- UCUM, the observed property's canonical unit
    unit_symbol             VARCHAR NOT NULL,
    unit_name               VARCHAR NOT NULL,
    observed_area           GEOMETRY,
    phenomenon_time_start   TIMESTAMPTZ,
    phenomenon_time_end     TIMESTAMPTZ,
    result_time_start       TIMESTAMPTZ,
    result_time_end         TIMESTAMPTZ,
    observation_count       BIGINT NOT NULL DEFAULT 0,
    last_phenomenon_time    TIMESTAMPTZ,
    last_result             DOUBLE,
    last_quality_flag       UTINYINT,
    properties              JSON,
    UNIQUE (thing_id, observed_property_id)
);

-- No index: observations are appended in (datastream_id, phenomenon_time) order per ingest and
-- pruned by DuckDB's zone maps. Uniqueness of (datastream_id, phenomenon_time) is kept by ingest.
-- quality_flag follows QARTOD: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing.
-- qc_tests is a bit set of the tests that did not pass (see monitoring.qc).
CREATE TABLE observations (
    id                      BIGINT NOT NULL,
    datastream_id           BIGINT NOT NULL,
    phenomenon_time         TIMESTAMPTZ NOT NULL,
    result_time             TIMESTAMPTZ,
    result                  DOUBLE,
    quality_flag            UTINYINT NOT NULL DEFAULT 2,
    qc_tests                USMALLINT NOT NULL DEFAULT 0,
    parameters              JSON,
    feature_of_interest_id  BIGINT,
    ingest_run_id           BIGINT
);

-- Ingest runs and their rejects -------------------------------------------------------------
CREATE SEQUENCE ingest_runs_id_seq;
CREATE TABLE ingest_runs (
    id              BIGINT PRIMARY KEY DEFAULT nextval('ingest_runs_id_seq'),
    dataset_id      BIGINT NOT NULL,
    kind            VARCHAR NOT NULL,          -- observations, stations, areas, ...
    file_name       VARCHAR NOT NULL,
    file_sha256     VARCHAR NOT NULL,
    mapping         JSON,
    status          VARCHAR NOT NULL,          -- running, done, failed
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ,
    rows_in         BIGINT NOT NULL DEFAULT 0,
    rows_accepted   BIGINT NOT NULL DEFAULT 0,
    rows_rejected   BIGINT NOT NULL DEFAULT 0,
    rows_inserted   BIGINT NOT NULL DEFAULT 0,
    rows_updated    BIGINT NOT NULL DEFAULT 0,
    rows_unchanged  BIGINT NOT NULL DEFAULT 0,
    rows_flagged    BIGINT NOT NULL DEFAULT 0,
    message         VARCHAR,
    user_id         BIGINT
);

CREATE TABLE quarantine (
    run_id      BIGINT NOT NULL,
    row_number  BIGINT NOT NULL,    -- 1-based data row in the source file (header not counted)
    field       VARCHAR,
    value       VARCHAR,
    reason      VARCHAR NOT NULL,
    raw         JSON                -- the whole source row, so nothing is lost
);

-- Biodiversity: Darwin Core ----------------------------------------------------------------
CREATE SEQUENCE taxa_id_seq;
CREATE TABLE taxa (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('taxa_id_seq'),
    scientific_name     VARCHAR NOT NULL UNIQUE,
    taxon_rank          VARCHAR,
    kingdom             VARCHAR,
    phylum              VARCHAR,
    class               VARCHAR,
    "order"             VARCHAR,
    family              VARCHAR,
    genus               VARCHAR,
    vernacular_names    JSON,          -- {"en": "Amur tiger", "zh": "东北虎", "ru": "амурский тигр"}
    iucn_category       VARCHAR,
    sensitive           BOOLEAN NOT NULL DEFAULT false
);

CREATE SEQUENCE occurrences_id_seq;
CREATE TABLE occurrences (
    id                              BIGINT PRIMARY KEY DEFAULT nextval('occurrences_id_seq'),
    dataset_id                      BIGINT NOT NULL REFERENCES datasets (id),
    occurrence_id                   VARCHAR NOT NULL,   -- dwc:occurrenceID
    basis_of_record                 VARCHAR NOT NULL,   -- dwc:basisOfRecord
    taxon_id                        BIGINT REFERENCES taxa (id),
    scientific_name                 VARCHAR NOT NULL,
    event_date                      TIMESTAMPTZ,
    individual_count                INTEGER,
    occurrence_status               VARCHAR NOT NULL DEFAULT 'present',
    decimal_latitude                DOUBLE,
    decimal_longitude               DOUBLE,
    coordinate_uncertainty_in_meters DOUBLE,
    geom                            GEOMETRY,
    country_code                    VARCHAR,            -- dwc:countryCode, ISO 3166-1 alpha-2
    locality                        VARCHAR,
    recorded_by                     VARCHAR,
    sex                             VARCHAR,
    life_stage                      VARCHAR,
    behavior                        VARCHAR,
    organism_id                     VARCHAR,
    camtrap_observation_id          VARCHAR,
    properties                      JSON,
    UNIQUE (dataset_id, occurrence_id)
);

-- Camera traps: Camtrap DP -----------------------------------------------------------------
CREATE SEQUENCE camtrap_deployments_id_seq;
CREATE TABLE camtrap_deployments (
    id                      BIGINT PRIMARY KEY DEFAULT nextval('camtrap_deployments_id_seq'),
    dataset_id              BIGINT NOT NULL REFERENCES datasets (id),
    deployment_id           VARCHAR NOT NULL,
    location_id             VARCHAR,
    location_name           VARCHAR,
    latitude                DOUBLE NOT NULL,
    longitude               DOUBLE NOT NULL,
    geom                    GEOMETRY NOT NULL,
    coordinate_uncertainty  INTEGER,
    deployment_start        TIMESTAMPTZ NOT NULL,
    deployment_end          TIMESTAMPTZ NOT NULL,
    setup_by                VARCHAR,
    camera_id               VARCHAR,
    camera_model            VARCHAR,
    camera_height           DOUBLE,
    bait_use                BOOLEAN,
    feature_type            VARCHAR,
    habitat                 VARCHAR,
    country                 VARCHAR,     -- ISO 3166-1 alpha-3
    tags                    VARCHAR,
    comments                VARCHAR,
    UNIQUE (dataset_id, deployment_id)
);

CREATE SEQUENCE camtrap_media_id_seq;
CREATE TABLE camtrap_media (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('camtrap_media_id_seq'),
    dataset_id          BIGINT NOT NULL REFERENCES datasets (id),
    media_id            VARCHAR NOT NULL,
    deployment_id       VARCHAR NOT NULL,
    capture_method      VARCHAR,
    timestamp           TIMESTAMPTZ NOT NULL,
    file_path           VARCHAR NOT NULL,
    file_public         BOOLEAN NOT NULL DEFAULT false,
    file_name           VARCHAR,
    file_mediatype      VARCHAR NOT NULL,
    favorite            BOOLEAN,
    comments            VARCHAR,
    UNIQUE (dataset_id, media_id)
);

-- Camtrap DP observations; called detections in the UI.
CREATE SEQUENCE camtrap_observations_id_seq;
CREATE TABLE camtrap_observations (
    id                          BIGINT PRIMARY KEY DEFAULT nextval('camtrap_observations_id_seq'),
    dataset_id                  BIGINT NOT NULL REFERENCES datasets (id),
    observation_id              VARCHAR NOT NULL,
    deployment_id               VARCHAR NOT NULL,
    media_id                    VARCHAR,
    event_id                    VARCHAR,
    event_start                 TIMESTAMPTZ NOT NULL,
    event_end                   TIMESTAMPTZ NOT NULL,
    observation_level           VARCHAR NOT NULL,      -- media, event
    observation_type            VARCHAR NOT NULL,      -- animal, human, vehicle, blank, ...
    scientific_name             VARCHAR,
    count                       INTEGER,
    life_stage                  VARCHAR,
    sex                         VARCHAR,
    behavior                    VARCHAR,
    individual_id               VARCHAR,
    classification_method       VARCHAR,
    classified_by               VARCHAR,
    classification_timestamp    TIMESTAMPTZ,
    classification_probability  DOUBLE,
    comments                    VARCHAR,
    UNIQUE (dataset_id, observation_id)
);

-- Areas: protected areas, key biodiversity areas, river basins, admin boundaries, AOIs -----------
CREATE SEQUENCE areas_id_seq;
CREATE TABLE areas (
    id          BIGINT PRIMARY KEY DEFAULT nextval('areas_id_seq'),
    dataset_id  BIGINT NOT NULL REFERENCES datasets (id),
    code        VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL CHECK (kind IN ('protected_area', 'key_biodiversity_area',
                    'river_basin', 'admin_boundary', 'area_of_interest')),
    name        JSON NOT NULL,
    country     VARCHAR,                -- ISO 3166-1 alpha-3
    designation VARCHAR,
    approximate BOOLEAN NOT NULL DEFAULT false,
    properties  JSON,
    geom        GEOMETRY NOT NULL,
    UNIQUE (dataset_id, code)
);
