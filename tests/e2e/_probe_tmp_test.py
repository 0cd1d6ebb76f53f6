import io
from PIL import Image
from tests.e2e.test_media_over_http import picture, encoded, upload, settled, post_with, fetch, png, media

def test_probe(api):
    _, t = api.new_user("probe")
    img = picture(300, 200)
    exif = Image.Exif(); exif[0x0112] = 6; exif[0x010F] = "SpyCam"
    jpg = encoded(img, "JPEG", exif=exif.tobytes())
    frames = [picture(50, 40), picture(50, 40).rotate(180)]
    buf = io.BytesIO(); frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    gif = buf.getvalue()
    trunc = png(200, 200)[:-200]
    ids = {name: upload(api, t, data, ct) for name, data, ct in
           [("exif", jpg, "image/jpeg"), ("gif", gif, "image/gif"), ("trunc", trunc, "image/png")]}
    res = {n: settled(api, t, i) for n, i in ids.items()}
    for n, r in res.items(): print(n, r["status"], r.get("reason"), r.get("width"), r.get("height"))
    dup = post_with(api, t, [ids["gif"], ids["gif"]]); print("dup", dup.status_code, dup.text)
    asint = api.request("POST", "/v1/tweets", t, json={"text": "x", "media_ids": [int(ids["gif"])]}); print("int", asint.status_code, asint.text[:200])
    ok = post_with(api, t, [ids["exif"], ids["gif"]], "probe"); print("ok", ok.status_code)
    m = ok.json()["media"]
    o = Image.open(io.BytesIO(fetch(m[0]["original"]["url"]).content)); print("exif orig", o.size, dict(o.getexif()), m[0]["original"], m[0]["preview"]["width"], m[0]["preview"]["height"])
    g = Image.open(io.BytesIO(fetch(m[1]["original"]["url"]).content)); print("gif", g.format, g.n_frames)
    tid = ok.json()["id"]
    rp = api.request("POST", f"/v1/tweets/{tid}/repost", t); print("repost media", rp.status_code, len(rp.json().get("media", [])))
    one = api.request("GET", f"/v1/tweets/{tid}", t); print("get tweet media", len(one.json()["media"]))
    nomedia = api.request("POST", "/v1/tweets", t, json={"text": "   "}); print("blank no media", nomedia.status_code)
