import type { LiveStream } from '../live/LiveStream.ts';

/** The URLs handed out for a stream: the watch page (view-only), the steer link, WHEP. */
export function streamLinks(publicUrl: string, stream: LiveStream): { viewerUrl: string; steerUrl: string; whepUrl: string } {
  const view = stream.viewToken ? `?token=${encodeURIComponent(stream.viewToken)}` : '';
  const viewerUrl = `${publicUrl}/s/${stream.id}${view}`;
  return {
    viewerUrl,
    // The steer token rides in the fragment, which browsers never send to servers or in Referer.
    steerUrl: `${viewerUrl}#steer=${encodeURIComponent(stream.steerToken)}`,
    whepUrl: `${publicUrl}/whep/${stream.id}`,
  };
}
