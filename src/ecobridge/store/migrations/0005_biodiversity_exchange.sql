-- Darwin Core Archive and Camtrap DP exchange (biodiversity/dwca.py, biodiversity/camtrap.py).
-- The Camtrap DP 1.0 terms that 0001 left out, so a package round-trips; the package metadata
-- that has no table of its own; DwC-A extension rows kept as they came; the file of a reject
-- (an archive or a package holds several files).

ALTER TABLE camtrap_deployments ADD COLUMN camera_delay INTEGER;
ALTER TABLE camtrap_deployments ADD COLUMN camera_depth DOUBLE;
ALTER TABLE camtrap_deployments ADD COLUMN camera_tilt INTEGER;
ALTER TABLE camtrap_deployments ADD COLUMN camera_heading INTEGER;
ALTER TABLE camtrap_deployments ADD COLUMN detection_distance DOUBLE;
ALTER TABLE camtrap_deployments ADD COLUMN timestamp_issues BOOLEAN;
ALTER TABLE camtrap_deployments ADD COLUMN deployment_groups VARCHAR;

ALTER TABLE camtrap_media ADD COLUMN exif_data VARCHAR;   -- as given: real packages hold
                                                         -- EXIF text that is not always JSON

ALTER TABLE camtrap_observations ADD COLUMN camera_setup_type VARCHAR;
ALTER TABLE camtrap_observations ADD COLUMN individual_position_radius DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN individual_position_angle DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN individual_speed DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN bbox_x DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN bbox_y DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN bbox_width DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN bbox_height DOUBLE;
ALTER TABLE camtrap_observations ADD COLUMN observation_tags VARCHAR;

ALTER TABLE quarantine ADD COLUMN file VARCHAR;   -- the file inside an archive or package

-- The imported datapackage.json without its resources (project, contributors, licences, ...),
-- reused when the dataset is exported again. One per dataset; the latest import wins.
CREATE TABLE camtrap_packages (
    dataset_id  BIGINT PRIMARY KEY,
    version     VARCHAR NOT NULL,          -- 1.0, 1.0.1, 1.0.2
    descriptor  JSON NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Rows of DwC-A extensions (Multimedia, VernacularName, Description, MeasurementOrFact, ...),
-- keyed by full term IRI, with the id of the core row they hang from. record_key (a hash of
-- row type, core id and record) keeps a second import of the same archive from adding them again.
CREATE TABLE dwca_extension_rows (
    dataset_id  BIGINT NOT NULL,
    run_id      BIGINT NOT NULL,
    row_type    VARCHAR NOT NULL,
    core_id     VARCHAR,
    record      JSON NOT NULL,
    record_key  VARCHAR NOT NULL,
    UNIQUE (dataset_id, record_key)
);
