-- Which datastreams' observations name each FeatureOfInterest. The SensorThings read path decides
-- a feature's visibility and the dataset that generalises its geometry from these few rows
-- instead of scanning the observations (0.5-1 s on 50 M rows). Kept by the observation writes
-- (monitoring/sta/obs_writes.py); a link whose datastream was deleted is ignored by the readers.

CREATE TABLE feature_datastreams (
    feature_of_interest_id  BIGINT NOT NULL,
    datastream_id           BIGINT NOT NULL
);

INSERT INTO feature_datastreams
SELECT DISTINCT feature_of_interest_id, datastream_id FROM observations
WHERE feature_of_interest_id IS NOT NULL;
