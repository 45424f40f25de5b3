import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { listProjects } from "../api";
import { ErrorBox, Loading } from "../components/Layout";
import { formatAgo, formatTime } from "../format";

export default function Projects() {
  const projects = useQuery({ queryKey: ["projects"], queryFn: ({ signal }) => listProjects(signal) });
  if (projects.isPending) return <Loading what="projects" />;
  if (projects.isError) return <ErrorBox error={projects.error} />;
  return (
    <section className="page">
      <h1>Projects</h1>
      {projects.data.length === 0 ? (
        <p className="empty">No projects yet. Log a run with <code>labbook.tracking.init(project="…")</code> and it shows here.</p>
      ) : (
        <table className="plain projects">
          <thead>
            <tr><th>Project</th><th className="num">Runs</th><th>Last activity</th><th>Created</th></tr>
          </thead>
          <tbody>
            {projects.data.map((p) => (
              <tr key={p.name}>
                <td><Link to={`/projects/${encodeURIComponent(p.name)}`}>{p.name}</Link></td>
                <td className="num">{p.run_count}</td>
                <td title={formatTime(p.last_activity)}>{formatAgo(p.last_activity)}</td>
                <td>{formatTime(p.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
