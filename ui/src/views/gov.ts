// Validators (open to anyone), member organisations and the access-control
// policy (signed reads: org admins and policy readers).

import { orgs, policy, validators } from "@dstt/sdk";
import { errorBox, h, loading, mount } from "../dom";
import { api } from "../session";
import type { View } from "../main";

function section(title: string, id: string, load: () => Promise<HTMLElement>): HTMLElement {
  const el = h("section", { "data-testid": id }, h("h2", {}, title), loading(title.toLowerCase()));
  load().then(
    (c) => mount(el, h("h2", {}, title), c),
    (err) => mount(el, h("h2", {}, title), errorBox(err, title)),
  );
  return el;
}

export const govView: View = (main) => {
  mount(
    main,
    h("h1", {}, "Validators, organisations and policy"),
    section("Validators", "validators", async () => {
      const vs = await validators(api());
      return h("table", {}, h("tr", {}, h("th", {}, "address"), h("th", {}, "public key"), h("th", {}, "power"), h("th", {}, "org")), vs.map((v) => h("tr", {}, h("td", {}, h("code", {}, v.address ?? "")), h("td", {}, h("code", {}, v.pub_key ?? "")), h("td", {}, String(v.power ?? 0)), h("td", {}, v.org ?? ""))));
    }),
    section("Organisations", "orgs", async () => {
      const o = await orgs(api());
      return h(
        "div",
        {},
        h("p", {}, `A governance tx needs the approval of admins of ${o.threshold ?? 0} organisation(s).`),
        h("table", {}, h("tr", {}, h("th", {}, "org"), h("th", {}, "admins"), h("th", {}, "validators")), (o.orgs ?? []).map((x) => h("tr", {}, h("td", {}, x.id ?? ""), h("td", {}, (x.admins ?? []).map((a) => h("div", {}, h("code", {}, a)))), h("td", {}, (x.validators ?? []).map((a) => h("div", {}, h("code", {}, a))))))),
      );
    }),
    section("Policy", "policy", async () => {
      const p = await policy(api());
      if (p.open) return h("p", {}, "Access control is off: genesis named no admins.");
      return h(
        "div",
        {},
        h("h3", {}, "Rules"),
        h("table", {}, h("tr", {}, ["subject", "domain", "key pattern", "action", "effect"].map((t) => h("th", {}, t))), p.rules.map((r) => h("tr", {}, h("td", {}, h("code", {}, r.subject)), h("td", {}, r.domain), h("td", {}, h("code", {}, r.object)), h("td", {}, r.action), h("td", {}, r.deny ? "deny" : "allow")))),
        h("h3", {}, "Grants"),
        h("table", {}, h("tr", {}, ["subject", "role", "domain"].map((t) => h("th", {}, t))), p.grants.map((g) => h("tr", {}, h("td", {}, h("code", {}, g.subject)), h("td", {}, g.role), h("td", {}, g.domain)))),
      );
    }),
  );
};
