// UDP echo server in Java: every datagram goes back, whole, to the address that sent it.
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketException;

public class Server {
    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: java Server PORT");
            System.exit(2);
        }
        DatagramSocket socket;
        try {
            socket = new DatagramSocket(Integer.parseInt(args[0]));
        } catch (SocketException e) {
            System.err.println("bind: " + e.getMessage());
            System.exit(1);
            return;
        }
        byte[] buf = new byte[65535];          // the largest UDP payload fits
        while (true) {
            DatagramPacket packet = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(packet);
                socket.send(new DatagramPacket(packet.getData(), packet.getLength(),
                                               packet.getSocketAddress()));
            } catch (IOException e) {
                System.err.println("echo: " + e.getMessage());
            }
        }
    }
}
