-- The product catalog, built from traffic, and the property keys seen per event name.
CREATE TABLE products (
    product_id TEXT PRIMARY KEY,
    name       TEXT,
    price      REAL,
    category   TEXT,
    brand      TEXT,
    url        TEXT,
    image_url  TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);

CREATE TABLE product_variants (
    product_id TEXT NOT NULL REFERENCES products (product_id),
    variant_id TEXT NOT NULL,
    variant    TEXT,
    sku        TEXT,
    PRIMARY KEY (product_id, variant_id)
);

CREATE TABLE event_keys (
    event TEXT NOT NULL,
    key   TEXT NOT NULL,
    type  TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (event, key, type)
);
