-- wrk script for bench/patch.py: varied valid requests over many seeded orders.
--
--   wrk ... -s bench/load.lua URL -- TARGETS MODE TAG
--
-- TARGETS has one line per order: "<basic credentials> <customer> <account>
-- <externalRefID>". MODE is patch, get, list or create. Every PATCH body carries
-- a value no earlier request used, so each 2xx writes exactly one audit event.
-- TAG keeps created externalRefIDs unique across runs. `done` prints one JSON
-- line that bench/patch.py reads.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local targets = {}
local mode, tag
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    local auth, customer, account, ref = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    targets[#targets + 1] = { auth, customer, account, ref }
  end
  mode = args[2]
  tag = args[3]
  math.randomseed(id * 7919 + os.time())
end

local function order_path(t)
  return "/raas/v2/asyncOrders/customers/" .. t[2] .. "/accounts/" .. t[3] .. "/" .. t[4]
end

local function patch_body(unique)
  local kind = counter % 4
  if kind == 0 then
    return '{"campaign":"spring-' .. unique .. '"}'
  elseif kind == 1 then
    return '{"purchaseOrderNumber":"PO-' .. unique .. '","notes":"fixed ' .. unique .. '"}'
  elseif kind == 2 then
    return '{"campaign":"c-' .. unique .. '","purchaseOrderNumber":"PO-' .. unique
      .. '","notes":"all three ' .. unique .. '"}'
  end
  return '{"notes":"n-' .. unique .. '","campaign":null}'
end

local function create_body(t, unique)
  local lines = {}
  for i = 1, 10 do
    lines[i] = '{"externalRefLineItemID":"l' .. i .. '","utid":"U000002","amount":'
      .. (i + 4) .. ',"deliveryMethod":"EMAIL","recipient":{"firstName":"Ada","email":"ada'
      .. i .. '@example.com"}}'
  end
  return '{"externalRefID":"wrk-' .. unique .. '","customerIdentifier":"' .. t[2]
    .. '","accountIdentifier":"' .. t[3] .. '","campaign":"bench","lineItems":['
    .. table.concat(lines, ",") .. ']}'
end

function request()
  counter = counter + 1
  local t = targets[math.random(#targets)]
  local unique = tag .. "-" .. id .. "-" .. counter
  local headers = { ["Authorization"] = "Basic " .. t[1] }
  if mode == "patch" then
    headers["Content-Type"] = "application/json"
    return wrk.format("PATCH", order_path(t), headers, patch_body(unique))
  elseif mode == "get" then
    return wrk.format("GET", order_path(t), headers)
  elseif mode == "list" then
    return wrk.format("GET", "/raas/v2/asyncOrders?accountIdentifier=" .. t[3]
      .. "&customerIdentifier=" .. t[2] .. "&orderStatus=COMPLETE&maxResults=20",
      headers)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/raas/v2/asyncOrders", headers, create_body(t, unique))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,'
      .. '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
