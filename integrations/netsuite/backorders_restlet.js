/**
 * Backorder Automator RESTlet: inventory changes and backorder status (contract version 1).
 *
 * Deploy as a RESTlet (Customization > Scripting > Scripts > New), give the integration's role
 * access to the deployment, and set the store's `options.restlet_url` to the deployment's
 * External URL (https://<account>.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=…&deploy=…).
 * Calls are signed with token-based authentication, the same tokens as REST web services:
 * https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html
 *
 * GET  ?action=stock[&since=YYYY-MM-DD HH24:MI:SS][&limit=1..1000][&offset=n]
 *      → {items: [{item_id, sku, location_id, on_hand, available, committed, backordered, modified}],
 *         hasMore, offset, count, totalResults, links: [{rel: "next", href}], now}
 *      Rows of every inventory item at every location whose item record, or an inventory-affecting
 *      transaction touching it, changed at or after `since` (all rows without `since`); `modified`
 *      is the later of the two, in the account's time, so it can be sent back as the next `since`.
 * POST {action: "backorder_status", items: [{item_id, sku, backorder: true|false}]}
 *      → {updated: [{item_id, field, value}], unchanged: [item_id…]}
 *      Writes the checkbox named by the script parameter custscript_ba_status_field
 *      (default custitem_ba_backorder) on each item; a value already set is left alone.
 * Errors are thrown: NetSuite answers 400 {"error": {"code", "message"}}
 * (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4634920277.html).
 *
 * @NApiVersion 2.1
 * @NScriptType Restlet
 */
define(['N/query', 'N/record', 'N/runtime', 'N/error', 'N/url'], (query, record, runtime, error, url) => {
    const CONTRACT = 1;
    const FORMAT = 'YYYY-MM-DD HH24:MI:SS';
    const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

    const fail = (code, message) => { throw error.create({name: code, message: message, notifyOff: true}); };

    const changedSince = (since) => since ? `
        AND (item.lastmodifieddate >= TO_TIMESTAMP(?, '${FORMAT}')
             OR EXISTS (SELECT 1 FROM transactionline tl INNER JOIN transaction t ON t.id = tl.transaction
                        WHERE tl.item = item.id AND tl.isinventoryaffecting = 'T'
                          AND t.lastmodifieddate >= TO_TIMESTAMP(?, '${FORMAT}')))` : '';

    const stock = (params) => {
        const since = params.since || null;
        if (since && !STAMP.test(since)) fail('INVALID_SINCE', `since ${since} is not YYYY-MM-DD HH24:MI:SS`);
        const limit = Math.min(Math.max(parseInt(params.limit || '1000', 10), 1), 1000);
        const offset = Math.max(parseInt(params.offset || '0', 10), 0);
        const sql = `SELECT item.id AS item_id, item.itemid AS sku, iil.location AS location_id,
                iil.quantityonhand AS on_hand, iil.quantityavailable AS available,
                iil.quantitycommitted AS committed, iil.quantitybackordered AS backordered,
                TO_CHAR(GREATEST(item.lastmodifieddate, NVL((SELECT MAX(t.lastmodifieddate) FROM transactionline tl
                    INNER JOIN transaction t ON t.id = tl.transaction
                    WHERE tl.item = item.id AND tl.isinventoryaffecting = 'T'), item.lastmodifieddate)), '${FORMAT}') AS modified
            FROM item INNER JOIN inventoryitemlocations iil ON iil.item = item.id
            WHERE item.itemtype = 'InvtPart' AND item.isinactive = 'F' ${changedSince(since)}
            ORDER BY item.id, iil.location`;
        const now = query.runSuiteQL({query: `SELECT TO_CHAR(SYSDATE, '${FORMAT}') AS now FROM DUAL`}).asMappedResults()[0].now;
        const rows = query.runSuiteQL({query: sql, params: since ? [since, since] : []}).asMappedResults();
        const page = rows.slice(offset, offset + limit);
        const hasMore = offset + page.length < rows.length;
        const links = [];
        if (hasMore) {
            const base = url.resolveScript({scriptId: runtime.getCurrentScript().id,
                deploymentId: runtime.getCurrentScript().deploymentId, returnExternalUrl: true});
            const next = {action: 'stock', limit: limit, offset: offset + page.length};
            if (since) next.since = since;
            links.push({rel: 'next', href: base + '&' + Object.keys(next).map(
                (k) => `${k}=${encodeURIComponent(next[k])}`).join('&')});
        }
        return {contract: CONTRACT, items: page, hasMore: hasMore, offset: offset, count: page.length,
                totalResults: rows.length, links: links, now: now};
    };

    const backorderStatus = (body) => {
        const field = runtime.getCurrentScript().getParameter({name: 'custscript_ba_status_field'}) || 'custitem_ba_backorder';
        if (!Array.isArray(body.items) || body.items.length === 0 || body.items.length > 100) {
            fail('INVALID_ITEMS', 'items must list 1 to 100 {item_id, backorder}');
        }
        const updated = [];
        const unchanged = [];
        body.items.forEach((entry) => {
            if (!/^\d+$/.test(String(entry.item_id)) || typeof entry.backorder !== 'boolean') {
                fail('INVALID_ITEMS', `item ${JSON.stringify(entry)} needs a numeric item_id and a boolean backorder`);
            }
            const item = record.load({type: record.Type.INVENTORY_ITEM, id: entry.item_id});
            if (item.getValue({fieldId: field}) === entry.backorder) {
                unchanged.push(String(entry.item_id));
                return;
            }
            record.submitFields({type: record.Type.INVENTORY_ITEM, id: entry.item_id,
                                 values: {[field]: entry.backorder}, options: {ignoreMandatoryFields: true}});
            updated.push({item_id: String(entry.item_id), field: field, value: entry.backorder});
        });
        return {contract: CONTRACT, updated: updated, unchanged: unchanged};
    };

    return {
        get: (params) => params.action === 'stock' ? stock(params) : fail('UNKNOWN_ACTION', `GET action ${params.action}`),
        post: (body) => body && body.action === 'backorder_status' ? backorderStatus(body)
            : fail('UNKNOWN_ACTION', `POST action ${body && body.action}`),
    };
});
