-- The baseline: a JSON body like a beacon's, to a bare aiohttp handler.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = '{"k":"ek_pk_x","s":null,"e":[{"i":"a1","n":"bench","t":1,"p":{"sku":"s1","price":9.99}}]}'
