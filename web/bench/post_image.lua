-- wrk script: POST the JPEG named by $IMAGE to the target URL (/api/v1/detect).
local path = os.getenv("IMAGE")
local file = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "image/jpeg"
local token = os.getenv("MASKDETECT_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
